import { AppError } from '../errors.js';

/** The request body is larger than the route accepts (HTTP 413). */
export class PayloadTooLargeError extends AppError {
  readonly status = 413;
  readonly title = 'Payload too large';
}

/** The request body is not JSON (HTTP 415). */
export class UnsupportedMediaTypeError extends AppError {
  readonly status = 415;
  readonly title = 'Unsupported media type';
}
