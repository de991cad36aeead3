// The admin console's Push section (web/console/src/admin-push.js) in headless Chromium
// against the real binary: an admin uploads bad credential files and sees the server's
// validation error next to the field, uploads good ones (a .p8 made here, a .p12 made with
// openssl that expires in 10 days) and sees their fingerprints, expiry and warning,
// generates VAPID keys, and a chat's push reaches the local Web Push service
// (bin/webpushfake), which verifies the VAPID JWT signature with the key the subscription
// was made with. The admin rotates the keys (confirmed on the same button, with the
// keyboard); the next push to the old subscription is refused by the push service, as a
// real one refuses it; the customer subscribes again with the key the server now serves,
// and the next push is verified with the NEW key, not the old one. The section's
// statistics show it all. axe-core finds no violation, on a desktop and at 390 px.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ChatgateServer, repoRoot } from "../../clients/lib/server.js";
import { waitFor } from "../../clients/lib/wait.js";
import { startWebPushFake } from "../../clients/lib/webpushfake.js";
import { launch, newPage, consoleShotDir } from "../lib/browser.js";
import { axe } from "../lib/axe.js";
import { agentAPI } from "../lib/agent.js";
import { rest, SVC } from "../lib/chat.js";

const ADMIN = "push-admin-console-test-token";
const SECRETS = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const sha256 = (b) => createHash("sha256").update(b).digest("hex");
const b64url = (s) => Buffer.from(s, "base64url");

// refused takes the n lines the browser logs for the n uploads the server refused (400),
// so the page's error log must be empty otherwise.
function refused(p, n) {
  assert.deepEqual(p.errors.splice(0), Array(n).fill("console: Failed to load resource: the server responded with a status of 400 (Bad Request)"));
}

async function noViolations(p, what) {
  const r = await axe(p, what);
  assert.deepEqual(r.violations, [], `axe violations on ${what}`);
  assert.ok(r.checked > 10, `axe checked only ${r.checked} rules on ${what}`);
}

describe("admin console: push credentials", () => {
  let server, browser, fake, dir, ann;
  const pages = [];

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "chatgate-pushadmin-"));
    fake = await startWebPushFake(dir);
    server = await new ChatgateServer({
      name: "chatgate-push-admin-console",
      env: { SSL_CERT_FILE: fake.cert, CHATGATE_SECRETS_KEY: SECRETS },
      args: ["--admin-token", ADMIN, "--push-webpush-allowed-hosts", "127.0.0.1"],
    }).start();
    browser = await launch();
    ann = await agentAPI(server, ADMIN).party("ann", { displayName: "Ann", role: "agent" });
    await ann.ready();
  });
  after(async () => {
    for (const p of pages) assert.deepEqual(p.errors, [], "the page logged errors");
    await browser?.close();
    await server?.close();
    await fake?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const adminGet = async (p) => {
    const r = await fetch(`${server.httpURL}/admin/push${p}`, { headers: { Authorization: `Bearer ${ADMIN}` } });
    assert.equal(r.status, 200);
    return r.json();
  };
  const servedKey = async () => {
    const r = await fetch(`${server.httpURL}/genesys/2/chat-push/vapid`);
    return r.status === 200 ? (await r.json()).publicKey : null;
  };

  const login = async (viewport) => {
    const ctx = await browser.newContext({ viewport });
    const p = await newPage(ctx);
    pages.push(p);
    await p.goto(`${server.httpURL}/admin/`);
    await p.locator("#admin-token").fill(ADMIN);
    await p.locator("#login-form button[type=submit]").click();
    await p.locator("#push-h").waitFor();
    await p.locator('#push-stats tr[data-kind="webpush"]').waitFor();
    return { ctx, p };
  };

  // upload puts a file into a file input the way a user picks one.
  const pick = (p, sel, name, buffer, mimeType = "application/octet-stream") =>
    p.locator(sel).setInputFiles({ name, mimeType, buffer: Buffer.from(buffer) });

  it("bad files are refused with the reason next to the field; good ones listed with fingerprint, expiry and warning", async () => {
    const { ctx, p } = await login({ width: 1280, height: 900 });
    await noViolations(p, "admin console with the push section");
    assert.equal(await p.locator("#push-creds").getByText("None.").count(), 4, "no credentials at first");

    // A SEC1 "EC PRIVATE KEY" is not the PKCS#8 .p8 Apple issues.
    const ec = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    await pick(p, "#apns-file", "AuthKey_ABC123DEFG.p8", ec.privateKey.export({ type: "sec1", format: "pem" }), "text/plain");
    await p.locator("#apns-keyid").fill("ABC123DEFG");
    await p.locator("#apns-teamid").fill("TEAM123456");
    await p.locator("#apns-topic").fill("com.example.chat");
    await p.locator("#apns-form button[type=submit]").click();
    await waitFor("the .p8 error", async () => /SEC1 key \(BEGIN EC PRIVATE KEY\), not the PKCS#8/.test(await p.locator("#apns-file-error").textContent()));
    assert.equal(await p.evaluate(() => document.activeElement.id), "apns-file", "the field in error has the focus");
    assert.equal(await p.locator("#apns-file").getAttribute("aria-invalid"), "true");
    await noViolations(p, "push section with a field error");

    // The right key (PKCS#8) is stored; its fingerprint is the SHA-256 of its public key.
    await pick(p, "#apns-file", "AuthKey_ABC123DEFG.p8", ec.privateKey.export({ type: "pkcs8", format: "pem" }), "text/plain");
    await p.locator("#apns-form button[type=submit]").click();
    const p8row = p.locator('li[data-key="apns.default.production"]');
    await p8row.waitFor();
    assert.equal(await p.locator("#apns-file-error").textContent(), "", "the error is cleared");
    assert.equal(await p8row.locator(".fingerprint").textContent(), sha256(ec.publicKey.export({ type: "spki", format: "der" })));
    assert.match(await p8row.textContent(), /no expiry: a \.p8 key is valid until it is revoked/);

    // A .p12 made with openssl (OpenSSL 3: AES-256 encryption), valid for 10 more days.
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", path.join(dir, "k.pem"), "-out", path.join(dir, "c.pem"),
      "-days", "10", "-subj", "/CN=Apple Push Services: com.example.chat"], { stdio: "ignore" });
    execFileSync("openssl", ["pkcs12", "-export", "-inkey", path.join(dir, "k.pem"), "-in", path.join(dir, "c.pem"), "-out", path.join(dir, "c.p12"),
      "-passout", "pass:right-pass"], { stdio: "ignore" });
    const certDER = execFileSync("openssl", ["x509", "-in", path.join(dir, "c.pem"), "-outform", "DER"]);
    await p.locator("#apns-name").fill("certauth");
    await p.locator("#apns-auth").selectOption("p12");
    assert.ok(await p.locator("#apns-keyid").isHidden(), "token fields hidden for certificate auth");
    await pick(p, "#apns-file", "push.p12", readFileSync(path.join(dir, "c.p12")), "application/x-pkcs12");
    await p.locator("#apns-password").fill("wrong-pass");
    await p.locator("#apns-form button[type=submit]").click();
    await waitFor("the password error", async () => /certificatePassword is wrong for this \.p12/.test(await p.locator("#apns-password-error").textContent()));
    assert.equal(await p.evaluate(() => document.activeElement.id), "apns-password");
    assert.ok(!(await p.locator("#push").textContent()).includes("wrong-pass"), "the password is not shown");
    await p.locator("#apns-password").fill("right-pass");
    await p.locator("#apns-form button[type=submit]").click();
    const p12row = p.locator('li[data-key="apns.certauth.production"]');
    await p12row.waitFor();
    assert.equal(await p12row.locator(".fingerprint").textContent(), sha256(certDER), "the fingerprint is the certificate's SHA-256");
    assert.match(await p12row.locator("[data-warning]").textContent(), /^the certificate expires in (9|10) days, on \d{4}-/);
    assert.equal(await p.locator("#apns-password").inputValue(), "", "the password field is emptied");

    // A service-account key without client_email.
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const sa = { type: "service_account", project_id: "proj-1", private_key_id: "k1", private_key: rsa.privateKey.export({ type: "pkcs8", format: "pem" }), token_uri: "https://oauth2.googleapis.com/token" };
    await pick(p, "#fcm-file", "key.json", JSON.stringify(sa), "application/json");
    await p.locator("#fcm-form button[type=submit]").click();
    await waitFor("the service-account error", async () => /has no client_email/.test(await p.locator("#fcm-file-error").textContent()));
    await pick(p, "#fcm-file", "key.json", JSON.stringify({ ...sa, client_email: "push@proj-1.iam.gserviceaccount.com" }), "application/json");
    await p.locator("#fcm-form button[type=submit]").click();
    const fcmRow = p.locator('li[data-key="fcm.default.production"]');
    await fcmRow.waitFor();
    assert.equal(await fcmRow.locator(".fingerprint").textContent(), sha256(rsa.publicKey.export({ type: "spki", format: "der" })));
    assert.match(await fcmRow.textContent(), /push@proj-1\.iam\.gserviceaccount\.com/);
    assert.ok(!(await p.locator("#push").textContent()).includes("PRIVATE KEY"));

    // The API agrees with the page, and shows no secret.
    const listed = JSON.stringify(await adminGet("/credentials"));
    assert.ok(!listed.includes("PRIVATE KEY") && !listed.includes("right-pass"), listed);
    refused(p, 3); // the .p8, the password, the service account
    await noViolations(p, "push section with credentials");
    await ctx.close();
  });

  it("generate VAPID keys, a push verified with them, rotate, the next push verified with the new key and not the old", async () => {
    const { ctx, p } = await login({ width: 1280, height: 900 });
    assert.equal(await servedKey(), null, "no VAPID key yet");
    const btn = p.locator("#vapid-generate");
    assert.equal(await btn.textContent(), "Generate keys");
    await p.locator("#vapid-subject").fill("localhost-ops@localhost");
    await btn.click();
    await waitFor("the subject error", async () => /@localhost subjects/.test(await p.locator("#vapid-subject-error").textContent()));
    assert.equal(await p.evaluate(() => document.activeElement.id), "vapid-subject");
    refused(p, 1);
    await p.locator("#vapid-subject").fill("mailto:ops@example.com");
    await btn.click();
    const row = p.locator('li[data-key="webpush.default.production"]');
    await row.waitFor();
    const k1 = await servedKey();
    assert.ok(k1, "the public endpoint serves the key");
    assert.match(await p.locator("#vapid-status").textContent(), new RegExp(`Generated default: public key ${k1}`));
    assert.equal(await row.locator(".fingerprint").textContent(), sha256(b64url(k1)));
    assert.equal(await btn.textContent(), "Rotate keys", "with a key the button rotates");

    // A customer's chat (REST) with a subscription made with k1; the agent answers; the push
    // service verifies the signature with k1.
    const sub1 = await fake.subscription(k1);
    const chat = await rest(server, SVC, "", {
      nickname: "Petra",
      "userData[push_notification_type]": "webpush",
      "userData[push_notification_subscription]": JSON.stringify(sub1),
    });
    assert.ok(chat.chatId, JSON.stringify(chat));
    await ann.accept(chat.chatId);
    const pushed = async (sub, text) => waitFor(`the push of ${JSON.stringify(text)}`, async () =>
      (await fake.messages()).find((m) => m.subscription === sub.endpoint.split("/").pop() && JSON.parse(m.payload).body === text), { timeout: 20000, every: 100 });
    await ann.act(chat.chatId, "send", { text: "Your parcel ships today" });
    const m1 = await pushed(sub1, "Your parcel ships today");
    assert.equal(m1.vapidKey, k1);
    assert.equal(m1.subject, "mailto:ops@example.com");

    // Rotate with the keyboard: the first press asks, the second rotates.
    await p.locator("#vapid-subject").fill("");
    await btn.focus();
    await p.keyboard.press("Enter");
    assert.equal(await btn.textContent(), "Confirm rotate");
    assert.match(await p.locator("#vapid-status").textContent(), /subscribe again/);
    assert.equal(await servedKey(), k1, "nothing changed before the confirmation");
    await p.keyboard.press("Enter");
    await waitFor("the rotation", async () => /^Rotated default/.test(await p.locator("#vapid-status").textContent()));
    const k2 = await servedKey();
    assert.ok(k2 && k2 !== k1, "the endpoint serves a new key");
    assert.match(await p.locator("#vapid-status").textContent(), new RegExp(`new public key ${k2} \\(the previous one was ${sha256(b64url(k1)).slice(0, 16)}`));
    await waitFor("the new fingerprint listed", async () => (await row.locator(".fingerprint").textContent()) === sha256(b64url(k2)));
    assert.match(await row.textContent(), /mailto:ops@example\.com/, "an empty subject keeps the old one");

    // The next push goes to the subscription made with k1: signed with k2, the push service
    // refuses it (a subscription is bound to its key).
    await ann.act(chat.chatId, "send", { text: "Are you still there?" });
    await waitFor("the refused push counted", async () => ((await adminGet("/stats")).webpush.failed || {}).vapid_rejected === 1, { timeout: 20000, every: 100 });
    await p.locator("#push-stats-refresh").click();
    await waitFor("the statistics in the page", async () =>
      /vapid_rejected: 1/.test(await p.locator('#push-stats tr[data-kind="webpush"] [data-stat="failed"]').textContent()));

    // The customer subscribes again with the served key; the next push is verified with k2.
    const sub2 = await fake.subscription(await servedKey());
    const upd = await rest(server, SVC, `/${chat.chatId}/updateData`, {
      secureKey: chat.secureKey,
      "userData[push_notification_subscription]": JSON.stringify(sub2),
    });
    assert.equal(upd.statusCode, 0, JSON.stringify(upd));
    await ann.act(chat.chatId, "send", { text: "Here is your refund" });
    const m2 = await pushed(sub2, "Here is your refund");
    assert.equal(m2.vapidKey, k2, "signed with the new key");
    assert.notEqual(m2.vapidKey, k1);
    const all = await fake.messages();
    assert.ok(!all.some((m) => JSON.parse(m.payload).body === "Are you still there?"), "the push signed for the old subscription was refused");
    for (const m of all) {
      const body = JSON.parse(m.payload).body;
      if (m.subscription === sub1.endpoint.split("/").pop()) assert.equal(m.vapidKey, k1, `${body}: the old subscription only ever accepted k1`);
      else assert.equal(m.vapidKey, k2, `${body}: after the rotation only k2 signs`);
    }
    await p.locator("#push-stats-refresh").click();
    await waitFor("sent counted", async () => Number(await p.locator('#push-stats tr[data-kind="webpush"] [data-stat="sent"]').textContent()) >= 3);
    await noViolations(p, "push section after a rotation");
    mkdirSync(consoleShotDir, { recursive: true });
    await p.locator("#push").screenshot({ path: path.join(consoleShotDir, "admin-push.png") });
    await ctx.close();
  });

  it("works on a 390 px phone: no horizontal scrolling of the page, no axe violation", async () => {
    const { ctx, p } = await login({ width: 390, height: 844 });
    await p.locator('li[data-key="webpush.default.production"]').waitFor();
    await noViolations(p, "push section at 390 px");
    const overflow = await p.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px`);
    for (const id of ["vapid-generate", "apns-file", "fcm-file", "push-stats-refresh"]) {
      const b = await p.locator(`#${id}`).boundingBox();
      assert.ok(b && b.x >= 0 && b.x + b.width <= 390, `#${id} fits the screen: ${JSON.stringify(b)}`);
    }
    await p.locator("#push").screenshot({ path: path.join(consoleShotDir, "admin-push-phone.png") });
    assert.ok(readFileSync(path.join(repoRoot, "docs", "consoles", "admin-push-phone.png")).length > 1000);
    await ctx.close();
  });
});

describe("admin console: push on a server without secrets-key", () => {
  it("says why credentials cannot be managed, without a failed request", async () => {
    const server = await new ChatgateServer({ name: "chatgate-push-admin-off", args: ["--admin-token", ADMIN] }).start();
    const browser = await launch();
    try {
      const ctx = await browser.newContext({ viewport: { width: 1000, height: 800 } });
      const p = await newPage(ctx);
      await p.goto(`${server.httpURL}/admin/`);
      await p.locator("#admin-token").fill(ADMIN);
      await p.locator("#login-form button[type=submit]").click();
      await p.locator("#push-off").waitFor();
      assert.match(await p.locator("#push-off").textContent(), /secrets-key is not set/);
      assert.ok(await p.locator("#push-on").isHidden(), "no forms without a store");
      await noViolations(p, "push section without secrets-key");
      assert.deepEqual(p.errors, [], "the page logged errors");
      await ctx.close();
    } finally {
      await browser.close();
      await server.close();
    }
  });
});
