import { httpHandler } from '../lib/http/http-handler.js';
import { getMatchingRunRoute } from '../lib/http/matching-run-routes.js';
import { getMatchingRunRequest } from '../lib/http/schemas.js';

export const handler = httpHandler(getMatchingRunRequest, getMatchingRunRoute);
