import t from "tap";
import { LoginLimiter, SessionStore } from "../src/http/sessions.js";

t.test("sessions end after 12 h idle and after 7 days however active", async (t) => {
  let now = 0;
  const store = new SessionStore(() => now);
  const { token } = store.create({ username: "anna", role: "installer" });
  now = 11 * 3_600_000;
  t.ok(store.get(token), "active within 12 h");
  now += 13 * 3_600_000;
  t.notOk(store.get(token), "gone after 13 h idle");

  const kept = store.create({ username: "anna", role: "installer" }).token;
  for (let hour = 0; hour < 7 * 24 + 1; hour += 6) {
    now += 6 * 3_600_000;
    store.get(kept);
  }
  t.notOk(store.get(kept), "gone after 7 days");
});

t.test("ending a user's sessions keeps the one that asked", async (t) => {
  const store = new SessionStore();
  const a = store.create({ username: "anna", role: "installer" }).token;
  const b = store.create({ username: "anna", role: "installer" }).token;
  const c = store.create({ username: "kunde", role: "viewer" }).token;
  store.endAll("anna", a);
  t.ok(store.get(a));
  t.notOk(store.get(b));
  t.ok(store.get(c));
  t.ok(store.alive(c));
  store.delete(c);
  t.notOk(store.alive(c));
});

t.test("login limiter: 5 free failures, then a doubling wait up to 15 minutes", async (t) => {
  let now = 0;
  const limiter = new LoginLimiter(() => now);
  for (let i = 0; i < 4; i++) limiter.failed("10.0.0.1", "anna");
  t.equal(limiter.retryAfterS("10.0.0.1", "anna"), 0);
  limiter.failed("10.0.0.1", "anna");
  t.equal(limiter.retryAfterS("10.0.0.1", "anna"), 30);
  t.equal(limiter.retryAfterS("10.0.0.2", "anna"), 30, "the user name is limited from any address");
  t.equal(limiter.retryAfterS("10.0.0.1", "bernd"), 30, "the address is limited for any user name");
  t.equal(limiter.retryAfterS("10.0.0.2", "bernd"), 0);
  now += 30_000;
  limiter.failed("10.0.0.1", "anna");
  t.equal(limiter.retryAfterS("10.0.0.1", "anna"), 60);
  for (let i = 0; i < 10; i++) limiter.failed("10.0.0.1", "anna");
  t.equal(limiter.retryAfterS("10.0.0.1", "anna"), 900, "capped at 15 minutes");
  limiter.succeeded("anna");
  t.equal(limiter.retryAfterS("10.0.0.2", "anna"), 0, "a success clears the user name");
  now += 31 * 60_000;
  t.equal(limiter.retryAfterS("10.0.0.1", "anna"), 0, "old failures expire");
});
