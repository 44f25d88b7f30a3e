export { getMatchingRunPartitionHandler as handler } from '../lib/http/partition-routes.js';
