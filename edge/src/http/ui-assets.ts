/**
 * The installer web UI's static files: built in memory from `edge/ui/` (development, tests) or
 * read from the prebuilt `edge/dist/ui/` (the appliance build, `npm run build:edge`); built and
 * served by the UI kit's server side.
 */
import { join } from "node:path";
import * as kit from "@steinmetz/ui-kit/server";

export { UI_CONTENT_SECURITY_POLICY, type UiAsset, type UiAssetsOptions } from "@steinmetz/ui-kit/server";

const here = import.meta.dirname;
/** True when running as the appliance bundle `edge/dist/edge.mjs` rather than from `edge/src/http`. */
const bundled = !import.meta.filename.endsWith(".ts");

/** The installer UI. */
export const INSTALLER_UI: kit.UiApp = {
  name: "installer UI",
  sourceDir: bundled ? join(here, "../ui") : join(here, "../../ui"),
  prebuiltDir: bundled ? join(here, "ui") : join(here, "../../dist/ui"),
  bundled,
};

/** The installer UI's files keyed by URL path. */
export const loadUiAssets = (options: kit.UiAssetsOptions = {}) => kit.loadUiAssets(INSTALLER_UI, options);

/** Builds the installer UI into `dir`. */
export const buildUiTo = (dir: string) => kit.buildUiTo(INSTALLER_UI, dir);

/** Serves the installer UI on the edge's server. */
export const uiAssetsPlugin = (assets: Map<string, kit.UiAsset>) =>
  kit.uiAssetsPlugin(assets, { notFoundCode: "EDGE_ERR_NOT_FOUND", routeConfig: { access: "public" } });
