import { getAccountActionsRoute } from '../lib/http/account-routes.js';
import { httpHandler } from '../lib/http/http-handler.js';
import { getAccountActionsRequest } from '../lib/http/schemas.js';

export const handler = httpHandler(getAccountActionsRequest, getAccountActionsRoute);
