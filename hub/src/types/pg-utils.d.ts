/** pg's own parameter serialisation (exported by pg as `pg/lib/utils.js`, without types). */
declare module "pg/lib/utils.js" {
  const utils: {
    /** A value as pg sends it as a text parameter: a string, a Buffer (bytea) or null. */
    prepareValue(value: unknown): string | Buffer | null;
  };
  export default utils;
}
