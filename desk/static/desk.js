// MoT Assist desk: the queue page and the live conversation page.
// Every piece of customer or agent text is put in the page with textContent: never as HTML.
"use strict";
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;

  async function api(method, path, body) {
    const reply = await fetch(path, {
      method, credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf,
                "Accept": "application/json"},
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await reply.json().catch(() => null);
    if (!reply.ok) throw new Error((data && data.error) || ("HTTP " + reply.status));
    return data;
  }

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function since(seconds) {
    const s = Math.max(0, Math.round(Date.now() / 1000 - seconds));
    return s < 60 ? s + " s" : Math.round(s / 60) + " min";
  }

  function socketUrl(query) {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    return proto + "//" + location.host + "/desk/ws" + query;
  }

  // ---- queue page -------------------------------------------------------------------------
  function queuePage() {
    async function refresh() {
      const q = await api("GET", "/api/desk/queue");
      document.getElementById("status").textContent =
        q.agents_online + " agent(s) online" + (q.open ? "" : " · outside business hours");
      // the rows are rebuilt: keep the keyboard's place (a focused Claim or Open)
      const focused = document.activeElement && document.activeElement.closest("tr[data-handoff]")
        ? [document.activeElement.closest("tr").dataset.handoff, document.activeElement.className,
           document.activeElement.tagName] : null;
      const queued = document.querySelector("#queued tbody");
      queued.replaceChildren(...q.queued.map((h) => {
        const row = el("tr"); row.dataset.handoff = h.id;
        [h.priority, since(h.created_at), h.moment || h.top_moment || "unknown", h.skill,
         h.reason, h.channel].forEach((v) => row.append(el("td", v)));
        const cell = el("td"), open = el("a", "Open"), claim = el("button", "Claim", "claim");
        open.href = "/desk/handoffs/" + encodeURIComponent(h.id);
        claim.onclick = async () => {
          document.getElementById("claim-error").textContent = "";
          try {
            await api("POST", "/api/desk/handoffs/" + encodeURIComponent(h.id) + "/claim");
            location.href = open.href;
          } catch (e) {  // someone else claimed it first, say; stays until the next claim
            document.getElementById("claim-error").textContent =
              "Could not claim that conversation: " + e.message.replace(/^handoff \S+: /, "");
            refresh().catch(() => {});
          }
        };
        cell.append(open, " ", claim); row.append(cell); return row;
      }));
      const assigned = document.querySelector("#assigned tbody");
      assigned.replaceChildren(...q.assigned.map((h) => {
        const row = el("tr"); row.dataset.handoff = h.id;
        [h.assignee, h.moment || "unknown", h.skill, h.channel].forEach(
          (v) => row.append(el("td", v)));
        const open = el("a", "Open"); open.href = "/desk/handoffs/" + encodeURIComponent(h.id);
        const cell = el("td"); cell.append(open); row.append(cell); return row;
      }));
      if (focused) {
        const row = document.querySelector('tr[data-handoff="' + CSS.escape(focused[0]) + '"]');
        const again = row && [...row.querySelectorAll(focused[2])]
          .find((node) => node.className === focused[1]);
        if (again) again.focus();
      }
    }
    function connect() {
      const ws = new WebSocket(socketUrl(""));
      ws.onmessage = () => refresh().catch(() => {});
      ws.onclose = () => setTimeout(connect, 1000);
    }
    refresh().catch((e) => { document.getElementById("status").textContent = e.message; });
    connect();
    setInterval(() => refresh().catch(() => {}), 5000);
  }

  // ---- conversation page ------------------------------------------------------------------
  function conversationPage(root) {
    const handoff = root.dataset.handoff;
    const base = "/api/desk/handoffs/" + encodeURIComponent(handoff);
    const log = document.getElementById("log");
    const compose = document.getElementById("compose");
    const errorBox = document.getElementById("error");
    const storageKey = "mot-pending-" + handoff;
    const pending = new Map(JSON.parse(sessionStorage.getItem(storageKey) || "[]"));
    const shown = new Map();
    let lastSeq = 0, ws = null, retry = 500;
    let stuckFrom = null;  // seq of the first line not getting through: later ones wait on it

    function savePending() {
      sessionStorage.setItem(storageKey, JSON.stringify([...pending]));
    }

    function render(m) {
      if (shown.has(m.seq)) return;
      const item = el("li", null, "line " + m.speaker);
      item.dataset.seq = m.seq;
      const who = m.speaker === "control" ? "handed back to the bot" + (m.author ? " by " + m.author : "")
        : m.speaker === "auto" ? "sent automatically"
        : (m.author || m.speaker) + (m.channel ? " · " + m.channel : "");
      item.append(el("span", who, "who"), el("span", m.speaker === "control"
        ? m.text.replace("hand_back:", "outcome: ") : m.text, "text"));
      if (m.speaker === "agent" || m.speaker === "auto") {
        item.append(el("span", m.delivered_at ? "✓" : "…", "tick"));
        if (m.struggling && (stuckFrom === null || m.seq < stuckFrom)) stuckFrom = m.seq;
        if (!m.delivered_at && stuckFrom !== null && m.seq >= stuckFrom) struggling(item);
      }
      // In the order things were said (Rasa's time for the customer's lines), not of
      // arrival: a desk replica that stalls stores a customer's lines after later ones.
      item.dataset.at = m.at;
      const later = (node) => +node.dataset.at > m.at
        || (+node.dataset.at === m.at && +node.dataset.seq > m.seq);
      let after = null;
      for (const node of shown.values()) {
        if (later(node) && (!after || +node.dataset.at < +after.dataset.at
            || (+node.dataset.at === +after.dataset.at && +node.dataset.seq < +after.dataset.seq))) {
          after = node;
        }
      }
      log.insertBefore(item, after);
      shown.set(m.seq, item);
      lastSeq = Math.max(lastSeq, m.seq);
      log.scrollTop = log.scrollHeight;
      if (m.speaker === "customer") suggest(m.seq);
    }

    // A line the customer's channel keeps refusing (Rasa down, an operator's callback
    // failing), and the lines after it, which wait on it: said plainly, until each gets
    // through and its ✓ replaces this.
    function stuck(seq) {
      if (stuckFrom === null || seq < stuckFrom) stuckFrom = seq;
      for (const [at, node] of shown) if (at >= stuckFrom) struggling(node);
    }

    function struggling(node) {
      const tick = node && node.querySelector(".tick");
      if (!tick || tick.textContent === "✓") return;
      tick.textContent = "not delivered yet, retrying";
      tick.classList.add("failing");
    }

    // Articles for customer line ``seq``; without one, for what the customer said before
    // the handoff (asked when the page opens, before any line arrives).
    async function suggest(seq) {
      const list = document.getElementById("suggestions");
      try {
        const found = await api("GET", base + "/suggestions" + (seq === undefined ? "" : "?seq=" + seq));
        if (seq === undefined && list.dataset.forSeq) return;  // a line's came first
        if (seq !== undefined) list.dataset.forSeq = seq;
        list.replaceChildren(...found.suggestions.map((s) => {
          const item = el("li", null, "suggestion");
          item.append(el("strong", s.title));
          if (s.rejected) item.append(el("p", "The customer said this did not help.", "error"));
          item.append(el("p", s.passage, "muted"));
          const insert = el("button", "Insert", "insert-suggestion");
          insert.onclick = () => { compose.value = s.reply; compose.focus(); };
          item.append(insert); return item;
        }));
      } catch (e) { list.replaceChildren(el("li", e.message, "muted")); }
    }

    // The controls follow the handoff as it changes hands. A closed conversation takes
    // internal notes only: the customer is back with the bot. So does one another agent
    // holds (a supervisor may still write and close); a transfer frees it again.
    function followStatus() {
      const closed = root.dataset.status === "closed";
      const heldByOther = root.dataset.status === "assigned" && root.dataset.seesAll !== "yes"
        && root.dataset.assignee !== root.dataset.viewer;
      for (const id of ["transfer", "transfer-skill", "outcome", "close", "claim", "canned"]) {
        const control = document.getElementById(id);
        if (control) control.disabled = closed || heldByOther;
      }
      const claim = document.getElementById("claim");
      if (claim) claim.hidden = root.dataset.status !== "queued";
      const note = document.getElementById("note");
      if (closed || heldByOther) note.checked = true;
      else if (note.disabled) note.checked = false;  // free again: replies by default
      note.disabled = closed || heldByOther;
      compose.placeholder = closed ? "Closed: the customer is back with the assistant. Notes only."
        : heldByOther ? root.dataset.assignee + " holds this conversation: internal notes only."
        : "Write to the customer… (Ctrl+Enter sends)";
    }

    function send(clientId, text, note) {
      if (ws && ws.readyState === WebSocket.OPEN) {
        ws.send(JSON.stringify({type: "send", client_id: clientId, text, note}));
      }
    }

    function connect() {
      const state = document.getElementById("connection");
      ws = new WebSocket(socketUrl("?handoff=" + encodeURIComponent(handoff) + "&after=" + lastSeq));
      ws.onopen = () => {
        retry = 500; state.textContent = "live";
        for (const [id, line] of pending) send(id, line.text, line.note);
      };
      ws.onmessage = (event) => {
        const frame = JSON.parse(event.data);
        if (frame.type === "message") render(frame.message);
        else if (frame.type === "ack") {
          pending.delete(frame.client_id); savePending(); render(frame.message);
        } else if (frame.type === "delivered") {
          const node = shown.get(frame.seq);
          const tick = node && node.querySelector(".tick");
          if (tick) { tick.textContent = "✓"; tick.classList.remove("failing"); }
          if (frame.seq === stuckFrom) stuckFrom = null;  // through: the rest follow
        } else if (frame.type === "undelivered") {
          stuck(frame.seq);
        } else if (frame.type === "handoff") {
          document.getElementById("handoff-status").textContent =
            frame.status_line;
          root.dataset.status = frame.status;
          root.dataset.assignee = frame.assignee || "";
          errorBox.textContent = "";  // what it said was about the state before
          followStatus();
        } else if (frame.type === "error") {
          errorBox.textContent = frame.error.replace(/^handoff \S+: /, "");
          if (frame.client_id) {
            // refused (someone else holds it, say): the words come back to the box
            const line = pending.get(frame.client_id);
            if (line && !compose.value.trim()) compose.value = line.text;
            pending.delete(frame.client_id); savePending();
          }
        }
      };
      ws.onclose = () => {
        state.textContent = "reconnecting…";
        setTimeout(connect, retry); retry = Math.min(retry * 2, 5000);
      };
    }

    document.getElementById("compose-form").onsubmit = (event) => {
      event.preventDefault();
      const text = compose.value.trim();
      if (!text) return;
      const clientId = (crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2) + Date.now()).replace(/[^A-Za-z0-9_-]/g, "");
      const note = document.getElementById("note").checked;
      pending.set(clientId, {text, note}); savePending();
      send(clientId, text, note);
      compose.value = ""; errorBox.textContent = "";
    };
    // Ctrl+Enter (⌘+Enter) sends; Enter alone starts a new line, as in most chat desks
    compose.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        document.getElementById("compose-form").requestSubmit();
      }
    });
    document.getElementById("canned").onchange = (event) => {
      if (event.target.value) { compose.value = event.target.value; compose.focus(); }
      event.target.value = "";
    };
    async function act(path, body) {
      try { await api("POST", base + path, body); errorBox.textContent = ""; return true; }
      catch (e) { errorBox.textContent = e.message; return false; }
    }
    document.getElementById("claim").onclick = async () => {
      if (await act("/claim")) {
        root.dataset.status = "assigned"; root.dataset.assignee = root.dataset.viewer;
        followStatus();
      }
    };
    document.getElementById("transfer").onclick = async () => {
      const skill = document.getElementById("transfer-skill").value;
      if (!skill) {  // no queue picked: a click would otherwise send it to the first one
        errorBox.textContent = "Pick the queue to transfer to first.";
        return;
      }
      if (await act("/transfer", {skill})) {
        location.href = "/desk";
      }
    };
    document.getElementById("close").onclick = async () => {
      await act("/close", {outcome: document.getElementById("outcome").value});
    };
    document.getElementById("correction").onsubmit = async (event) => {
      event.preventDefault();
      const customerLines = [...log.querySelectorAll(".line.customer .text")];
      const transcript = [...document.querySelectorAll("#transcript .line.customer .text")];
      const last = customerLines.pop() || transcript.pop();
      const moment = document.getElementById("correct-moment").value;
      if (await act("/correction", {moment, text: last ? last.textContent : moment})) {
        document.getElementById("moment").textContent = moment;
        document.getElementById("correction-status").textContent = "saved for review";
      }
    };
    followStatus();
    suggest();
    connect();
    setInterval(() => {
      if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({type: "sync", after: lastSeq}));
    }, 10000);
  }

  const page = document.querySelector("[data-page]");
  if (page && page.dataset.page === "queue") queuePage();
  if (page && page.dataset.page === "conversation") conversationPage(page);
})();
