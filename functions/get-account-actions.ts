export { getAccountActionsHandler as handler } from '../lib/http/account-routes.js';
