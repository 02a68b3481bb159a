/** The customers domain (ERP): CRUD with optimistic locking, idempotent writes and an audit trail. */
export { type CustomersOptions, customerRoutes } from "./routes.js";
