import { hubError } from "../../errors.js";
import { staleVersion } from "../../platform/locking.js";

/** 404 for a customer id that does not exist. */
export const customerNotFound = (id: string) => hubError("HUB_ERR_NOT_FOUND", `customer ${id} does not exist`);

/** 412 for a change against an old version of a customer. */
export const customerStale = (id: string, expected: number, current: number) =>
  staleVersion(`customer ${id}`, expected, current);
