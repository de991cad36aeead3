// GMS Chat API v2 over CometD (/service/chatV2/<svc>) with the stock CometD JavaScript client
// against the real chatgate binary, cross-checked through the REST flavour
// (/genesys/2/chat/<svc>) and the chat-ntf file endpoint. Owner: web/gmschat.
//
// Part of `npm test` (from test/clients: node --test gms/ runs it alone).

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { ChatgateServer } from "../lib/server.js";
import { newClient } from "../lib/cometd-client.js";
import { Inbox } from "../lib/wait.js";
import { uniq } from "../lib/raw.js";

const SVC = "customer-support";
const CHANNEL = `/service/chatV2/${SVC}`;

async function rest(server, pathTail, fields) {
  const body = new URLSearchParams(fields);
  const r = await fetch(`${server.httpURL}/genesys/2/chat/${SVC}${pathTail}`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body,
  });
  return { status: r.status, json: await r.json() };
}

for (const transport of ["long-polling", "websocket"]) {
  describe(`GMS chatV2 over CometD ${transport}`, () => {
    let server;
    const clients = [];

    // customer handshakes, subscribes to the service channel and collects every push.
    const customer = async () => {
      const c = newClient(server.cometdURL, { transport });
      clients.push(c);
      await c.handshake();
      await c.connected();
      c.inbox = new Inbox(`${transport} chatV2`);
      await c.subscribe(CHANNEL, (m) => c.inbox.push(m.data));
      return c;
    };
    const pushed = (c, pred, what) => c.inbox.next(pred, 10000, what);

    before(async () => {
      server = await new ChatgateServer({ name: `chatgate-gms-${transport}` }).start();
    });
    after(async () => {
      for (const c of clients) await c.disconnect().catch(() => {});
      await server.close();
    });

    it("requestChat answers on the channel; REST refresh reads the same chat", async () => {
      const c = await customer();
      await c.publish(CHANNEL, { operation: "requestChat", nickname: `n-${uniq()}`, subject: "help",
        userData: { GCTI_Chat_AsyncMode: "true" } });
      const r = await pushed(c, (d) => d.chatId, "the requestChat answer");
      assert.equal(r.statusCode, 0);
      assert.ok(r.secureKey && r.userId && r.alias);
      assert.equal(r.chatEnded, false);
      assert.equal(r.messages[0].type, "ParticipantJoined");
      assert.equal(r.messages[0].index, 1);
      assert.equal(r.messages[0].from.type, "Client");

      await c.publish(CHANNEL, { operation: "sendMessage", secureKey: r.secureKey, message: "hello" });
      const m = await pushed(c, (d) => d.messages?.some((e) => e.type === "Message"), "the Message push");
      assert.equal(m.messages.find((e) => e.type === "Message").text, "hello");

      const ref = await rest(server, `/${r.chatId}/refresh`, { secureKey: r.secureKey, transcriptPosition: "1" });
      assert.equal(ref.status, 200);
      assert.deepEqual(ref.json.messages.map((e) => e.type), ["ParticipantJoined", "Message"]);
      assert.equal(ref.json.nextPosition, 3);

      // A REST send of the same customer reaches the attached CometD session.
      await rest(server, `/${r.chatId}/send`, { secureKey: r.secureKey, message: "via rest", transcriptPosition: "0" });
      await pushed(c, (d) => d.messages?.some((e) => e.text === "via rest"), "the REST message pushed over CometD");
    });

    it("every customer operation is answered and its event pushed, in transcript order", async () => {
      const c = await customer();
      await c.publish(CHANNEL, { operation: "requestChat", nickname: "ops", userData: { topic: "t" } });
      const r = await pushed(c, (d) => d.chatId, "the requestChat answer");
      const ops = [
        [{ operation: "startTyping", message: "typ" }, "TypingStarted"],
        [{ operation: "stopTyping" }, "TypingStopped"],
        [{ operation: "pushUrl", pushUrl: "https://shop.example.com/p/1" }, "PushUrl"],
        [{ operation: "updateNickname", nickname: "ops2" }, "NicknameUpdated"],
        [{ operation: "customNotice", message: "hello notice" }, "CustomNotice"],
        [{ operation: "sendMessage", message: "m1", messageType: "text" }, "Message"],
      ];
      for (const [data, type] of ops) {
        await c.publish(CHANNEL, { ...data, secureKey: r.secureKey });
        const ev = await pushed(c, (d) => d.messages?.some((e) => e.type === type), `the ${type} push`);
        assert.equal(ev.statusCode, 0);
      }
      // updateData has no transcript event: the answer is a success push without messages.
      await c.publish(CHANNEL, { operation: "updateData", secureKey: r.secureKey, userData: { orderId: "42" } });
      await pushed(c, (d) => d.statusCode === 0 && Array.isArray(d.messages) && d.messages.length === 0, "the updateData answer");

      const ref = await rest(server, `/${r.chatId}/refresh`, { secureKey: r.secureKey });
      assert.deepEqual(ref.json.messages.map((e) => e.type),
        ["ParticipantJoined", "TypingStarted", "TypingStopped", "PushUrl", "NicknameUpdated", "CustomNotice", "Message"]);
      assert.deepEqual(ref.json.messages.map((e) => e.index), [1, 2, 3, 4, 5, 6, 7]);
      // Every pushed event arrived once.
      const seen = c.inbox.all.flatMap((d) => d.messages ?? []).filter((e) => e.index > 0).map((e) => e.index);
      assert.deepEqual([...new Set(seen)].sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7]);
      assert.equal(seen.length, new Set(seen).size, `an event was pushed twice: ${seen}`);
    });

    it("a wrong secureKey is an error push and changes nothing", async () => {
      const c = await customer();
      await c.publish(CHANNEL, { operation: "requestChat", nickname: "x" });
      const r = await pushed(c, (d) => d.chatId, "the requestChat answer");
      await c.publish(CHANNEL, { operation: "sendMessage", secureKey: "0000000000000000", message: "no" });
      const e = await pushed(c, (d) => d.statusCode !== 0, "the error push");
      assert.equal(e.statusCode, 2);
      assert.equal(e.errors[0].code, 201);
      const ref = await rest(server, `/${r.chatId}/refresh`, { secureKey: r.secureKey });
      assert.equal(ref.json.messages.length, 1);
    });

    it("background (/meta/disconnect with ext.transcriptPosition) then requestNotifications replays", async () => {
      const c = await customer();
      await c.publish(CHANNEL, { operation: "requestChat", nickname: "bg" });
      const r = await pushed(c, (d) => d.chatId, "the requestChat answer");
      await new Promise((resolve) => c.cometd.disconnect({ ext: { transcriptPosition: "1" } }, resolve));
      const missed = await rest(server, `/${r.chatId}/send`, { secureKey: r.secureKey, message: "while away", transcriptPosition: "0" });
      assert.equal(missed.status, 200);

      const back = await customer();
      await back.publish(CHANNEL, { operation: "requestNotifications", secureKey: r.secureKey, transcriptPosition: "2" });
      const replay = await pushed(back, (d) => d.messages?.some((e) => e.text === "while away"), "the replayed event");
      assert.equal(replay.chatId, r.chatId);
      assert.ok(replay.messages.every((e) => e.index >= 2), "replay starts at transcriptPosition");
    });

    it("after a SIGKILL of the server the customer resumes with requestNotifications", async () => {
      const c = await customer();
      await c.publish(CHANNEL, { operation: "requestChat", nickname: "kill", userData: { GCTI_Chat_AsyncMode: "true" } });
      const r = await pushed(c, (d) => d.chatId, "the requestChat answer");
      const texts = [];
      for (let i = 0; i < 5; i++) {
        texts.push(`before kill ${i}`);
        await c.publish(CHANNEL, { operation: "sendMessage", secureKey: r.secureKey, message: texts[i] });
        await pushed(c, (d) => d.messages?.some((e) => e.text === texts[i]), `acknowledged message ${i}`);
      }
      await c.disconnect().catch(() => {});
      await server.restart("SIGKILL");

      const back = await customer();
      await back.publish(CHANNEL, { operation: "requestNotifications", secureKey: r.secureKey, transcriptPosition: "1" });
      const replay = await pushed(back, (d) => d.chatId === r.chatId && d.messages?.length > 0, "the replay after restart");
      assert.deepEqual(replay.messages.filter((e) => e.type === "Message").map((e) => e.text), texts);
      await back.publish(CHANNEL, { operation: "sendMessage", secureKey: r.secureKey, message: "after restart" });
      await pushed(back, (d) => d.messages?.some((e) => e.text === "after restart" && e.index === 7), "a new message continues the transcript");
    });

    it("disconnect ends the chat for the customer", async () => {
      const c = await customer();
      await c.publish(CHANNEL, { operation: "requestChat", nickname: "bye" });
      const r = await pushed(c, (d) => d.chatId, "the requestChat answer");
      await c.publish(CHANNEL, { operation: "disconnect", secureKey: r.secureKey });
      await pushed(c, (d) => d.chatEnded === true, "chatEnded");
      const after = await rest(server, `/${r.chatId}/send`, { secureKey: r.secureKey, message: "late" });
      assert.equal(after.status, 200);
      assert.equal(after.json.statusCode, 2);
      assert.equal(after.json.chatEnded, true);
    });

    if (transport === "long-polling") {
      it("chat-ntf fileGetLimits with the BAYEUX_BROWSER cookie", async () => {
        const c = await customer();
        await c.publish(CHANNEL, { operation: "requestChat", nickname: "files" });
        const r = await pushed(c, (d) => d.chatId, "the requestChat answer");
        const cookie = c.jar.get("BAYEUX_BROWSER");
        assert.ok(cookie, "the server set BAYEUX_BROWSER");
        const form = new FormData();
        form.set("operation", "fileGetLimits");
        form.set("secureKey", r.secureKey);
        const ok = await fetch(`${server.httpURL}/genesys/2/chat-ntf`, { method: "POST", body: form, headers: { Cookie: cookie } });
        assert.equal(ok.status, 200);
        const limits = (await ok.json()).messages.find((e) => e.text === "file-client-cfg-get");
        assert.ok(limits.userData["upload-max-files"]);
        const noCookie = await fetch(`${server.httpURL}/genesys/2/chat-ntf`, { method: "POST", body: form });
        assert.equal(noCookie.status, 403);
        assert.equal((await noCookie.json()).errors[0].code, 202);

        // Upload, download and delete through chat-ntf; the events reach the CometD session.
        const up = new FormData();
        up.set("operation", "fileUpload");
        up.set("secureKey", r.secureKey);
        up.set("userData[file-description]", "receipt");
        up.set("file", new Blob(["receipt body"], { type: "text/plain" }), "receipt.txt");
        const upRes = await fetch(`${server.httpURL}/genesys/2/chat-ntf`, { method: "POST", body: up, headers: { Cookie: cookie } });
        assert.equal(upRes.status, 200);
        const fileId = (await upRes.json()).userData["file-id"];
        assert.ok(fileId);
        await pushed(c, (d) => d.messages?.some((e) => e.type === "FileUploaded" && e.userData["file-id"] === fileId), "the FileUploaded push");

        const dl = new FormData();
        dl.set("operation", "fileDownload");
        dl.set("secureKey", r.secureKey);
        dl.set("fileId", fileId);
        const dlRes = await fetch(`${server.httpURL}/genesys/2/chat-ntf`, { method: "POST", body: dl, headers: { Cookie: cookie } });
        assert.equal(dlRes.status, 200);
        assert.equal(await dlRes.text(), "receipt body");

        const del = new FormData();
        del.set("operation", "fileDelete");
        del.set("secureKey", r.secureKey);
        del.set("fileId", fileId);
        const delRes = await fetch(`${server.httpURL}/genesys/2/chat-ntf`, { method: "POST", body: del, headers: { Cookie: cookie } });
        assert.equal(delRes.status, 200);
        await pushed(c, (d) => d.messages?.some((e) => e.type === "FileDeleted"), "the FileDeleted push");
      });
    }
  });
}
