import { listAccountActionsRoute } from '../lib/http/account-routes.js';
import { httpHandler } from '../lib/http/http-handler.js';
import { listAccountActionsRequest } from '../lib/http/schemas.js';

export const handler = httpHandler(listAccountActionsRequest, listAccountActionsRoute);
