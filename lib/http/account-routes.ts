import { NotFoundError } from '../errors.js';
import { getAccountActions, listAccountActions } from '../summary/index.js';
// Evaluated at initialisation on purpose: every valid request of these routes reads MongoDB, and
// a 512 MB function runs its requests on a fraction of a vCPU (docs/decisions.md, "Cold starts").
import '../store/connect-mongo.js';
import { getDocumentStore } from '../store/get-document-store.js';
import { httpHandler } from './http-handler.js';
import { getAccountActionsRequest, listAccountActionsRequest } from './schemas.js';

/** `GET /accounts/{number}/actions` (SPEC §2): the summary of one account, 404 when there is none. */
export const getAccountActionsHandler = httpHandler(getAccountActionsRequest, async ({ path }) => {
  const summary = await getAccountActions(await getDocumentStore(), path.number);
  if (!summary) throw new NotFoundError(`account ${path.number} does not exist`);
  return { status: 200, body: summary };
});

/** `GET /accounts/actions?limit=&after=` (SPEC §2): one keyset page, `after` is the next page's cursor. */
export const listAccountActionsHandler = httpHandler(listAccountActionsRequest, async ({ query }) => {
  const page = await listAccountActions(await getDocumentStore(), {
    limit: query.limit,
    ...(query.after === undefined ? {} : { after: query.after }),
  });
  return { status: 200, body: page };
});
