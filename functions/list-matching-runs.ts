export { listMatchingRunsHandler as handler } from '../lib/http/run-list-routes.js';
