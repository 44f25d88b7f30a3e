export { listAccountActionsHandler as handler } from '../lib/http/account-routes.js';
