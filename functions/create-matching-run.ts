export { createMatchingRunHandler as handler } from '../lib/http/matching-run-routes.js';
