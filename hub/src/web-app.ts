/**
 * The hub's web app for ERP users (`hub/ui/`): built in memory from its sources (development,
 * tests: once per process) or read from `hub/dist/ui` (an image build, `buildHubUi`), and served
 * at `/` with the UI kit's strict headers.
 */
import { join } from "node:path";
import * as kit from "@steinmetz/ui-kit/server";

const here = import.meta.dirname;
const bundled = !import.meta.filename.endsWith(".ts");

export const HUB_UI: kit.UiApp = {
  name: "hub web app",
  sourceDir: join(here, "../ui"),
  prebuiltDir: join(here, "../dist/ui"),
  bundled,
};

let assets: Promise<Map<string, kit.UiAsset>> | undefined;

/** The web app's files (built once per process). */
export function hubUiAssets(): Promise<Map<string, kit.UiAsset>> {
  assets ??= kit.loadUiAssets(HUB_UI);
  assets.catch(() => {
    assets = undefined;
  });
  return assets;
}

/** Builds the web app into `hub/dist/ui` (for images). */
export const buildHubUi = () => kit.buildUiTo(HUB_UI, HUB_UI.prebuiltDir);

/** Serves the web app at `/` (public: the login page is part of it; the API it calls is not). */
export async function webAppPlugin() {
  return kit.uiAssetsPlugin(await hubUiAssets(), {
    notFoundCode: "HUB_ERR_NOT_FOUND",
    routeConfig: { permission: "public" },
  });
}
