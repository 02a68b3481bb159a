import { hubError } from "../errors.js";
import { staleVersion } from "../platform/locking.js";

/** 404 for an unknown dead letter. */
export const deadLetterNotFound = (id: number) => hubError("HUB_ERR_NOT_FOUND", `dead letter ${id} does not exist`);

/** 412 for a redrive or discard against an old version. */
export const deadLetterStale = (id: number, expected: number, current: number) =>
  staleVersion(`dead letter ${id}`, expected, current);

/** 409: it was already redriven or discarded. */
export const deadLetterNotPending = (id: number, status: string) =>
  hubError("HUB_ERR_DLQ_NOT_PENDING", `dead letter ${id} is ${status}, not pending`);

/** 409: nothing can redrive this source. */
export const noRedriveHandler = (source: string) =>
  hubError("HUB_ERR_DLQ_NO_HANDLER", `no redrive handler is registered for source ${source}`);
