import { type LoadedProfile, loadProfile } from "../../src/profile/load-profile.js";
import type { ProfilePoint } from "../../src/profile/profile-schema.js";

/** The SunSpec model 103 inverter profile with its points replaced by `points` (for small test devices). */
export function inverterProfileWith(points: ProfilePoint[]): LoadedProfile {
  const base = loadProfile("inverter/sunspec-model103-tcp");
  return { ...base, profile: { ...base.profile, points } };
}
