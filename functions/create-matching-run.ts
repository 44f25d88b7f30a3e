import { httpHandler } from '../lib/http/http-handler.js';
import { createMatchingRunRoute } from '../lib/http/matching-run-routes.js';
import { createMatchingRunRequest } from '../lib/http/schemas.js';

export const handler = httpHandler(createMatchingRunRequest, createMatchingRunRoute);
