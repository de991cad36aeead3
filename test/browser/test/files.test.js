// Files in the widget, through chat-ntf of the real binary: the server's limits applied before
// upload (size, type), an upload with its FileUploaded event and a download of the same
// bytes, and the server's own refusal (upload count used up) shown with its advice.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ChatgateServer } from "../../clients/lib/server.js";
import { waitFor } from "../../clients/lib/wait.js";
import { launch, newPage, w } from "../lib/browser.js";
import { otherSide, startChat, items } from "../lib/chat.js";

const SVC = "files-test";

describe("widget files", () => {
  let server, browser, other;
  const pages = [];
  before(async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "chatgate-widget-files-"));
    const cfg = path.join(dir, "chatgate.json");
    writeFileSync(cfg, JSON.stringify({
      [`chat.${SVC}`]: { "client-file-transfer": { "upload-max-files": 1, "upload-max-file-size": 1000, "upload-file-types": "txt:png" } },
    }));
    server = await new ChatgateServer({ name: "chatgate-widget-files", args: ["--config", cfg] }).start();
    other = otherSide(server, SVC);
    browser = await launch();
  });
  after(async () => {
    for (const p of pages) assert.deepEqual(p.errors.filter((e) => !/status of 413|status of 415|Failed to load resource/.test(e)), [],
      "the page logged errors other than the refused uploads");
    await browser?.close();
    await server?.close();
  });

  // attach picks a file through the attach button's file chooser, as a person does.
  const attach = async (p, name, bytes) => {
    const [chooser] = await Promise.all([p.waitForEvent("filechooser"), w(p, "button[aria-label='Attach a file']").click()]);
    await chooser.setFiles({ name, mimeType: "application/octet-stream", buffer: Buffer.from(bytes) });
  };
  const alerts = async (p) => (await items(p)).filter((i) => i.kind === "system").map((i) => i.text).filter((t) => /not accepted/.test(t));

  it("limits, upload, download, and the server's refusal", async () => {
    const ctx = await browser.newContext({ acceptDownloads: true });
    const p = await newPage(ctx);
    pages.push(p);
    await p.goto(`${server.httpURL}/`);
    await p.evaluate((svc) => window.ChatGate.init({ service: svc }), SVC);
    const s = await startChat(p, { name: "Fay" });

    await attach(p, "big.txt", "x".repeat(1001));
    await waitFor("the size refusal", async () => (await alerts(p)).length === 1);
    assert.match((await alerts(p))[0], /larger than 1000 B/);
    await attach(p, "tool.exe", "MZ");
    await waitFor("the type refusal", async () => (await alerts(p)).length === 2);
    assert.match((await alerts(p))[1], /txt, png/);

    const content = "order 42: please refund\n";
    await attach(p, "note.txt", content);
    const file = await waitFor("the FileUploaded item", async () => (await items(p)).find((i) => /Download note\.txt/.test(i.text)));
    assert.equal(file.kind, "own");
    const [dl] = await Promise.all([p.waitForEvent("download"), w(p, `.item[data-index="${file.index}"] button.linkbtn`).click()]);
    assert.equal(dl.suggestedFilename(), "note.txt");
    assert.equal(readFileSync(await dl.path(), "utf8"), content);

    // The second file passes the per-file checks but not the server's upload-max-files: the
    // widget shows the server's own advice.
    await attach(p, "second.txt", "more");
    await waitFor("the server's refusal", async () => (await alerts(p)).length === 3);
    const form = new FormData();
    form.append("secureKey", s.secureKey);
    form.append("file", new Blob(["more"]), "second.txt");
    const direct = await (await fetch(`${server.httpURL}/genesys/2/chat/${SVC}/${s.chatId}/file`, { method: "POST", body: form })).json();
    const advice = direct.errors[0].advice;
    assert.ok(advice);
    assert.equal((await alerts(p))[2], `The file was not accepted: ${advice}`);

    const t = await other.transcript(s);
    assert.deepEqual(t.messages.filter((e) => e.type === "FileUploaded").map((e) => e.userData["file-name"]), ["note.txt"]);
    await ctx.close();
  });
});
