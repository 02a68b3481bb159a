/**
 * gRPC contracts between edge and hub. The code under `gen/` is generated from
 * `steinmetz/**.proto` by `npm run proto` and committed; `npm test` checks it is current.
 */
export * from "./gen/steinmetz/sync/v1/sync.js";
export * from "./reading-batch.js";
export * from "./seq-ranges.js";
