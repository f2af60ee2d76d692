// User messages (GET /messages, microversion 3.3; pagination from 3.5). The only page
// that sends a version header: a server that does not speak 3.3 yet answers 406, shown
// as "not available yet".

import { session, get, del, versionAtLeast } from "./api.js";
import { h, fill, errorBox, unavailableBox, emptyRow, pageHead, toast, timeCell, shortId } from "./ui.js";

const state = { markers: [], limit: 50 };

export function render(root) {
  const body = h("div");
  fill(root, pageHead("Messages"),
    h("p", { class: "muted" }, "What went wrong with your requests after the API had accepted them: a volume the scheduler could not place, a driver that failed, and so on."),
    body);

  async function load() {
    const paged = versionAtLeast(session.maxVersion, "3.5");
    const version = paged ? "3.5" : "3.3";
    let data;
    try {
      data = await get("/messages", { version, query: paged ? { limit: state.limit, marker: state.markers[state.markers.length - 1] } : {} });
    } catch (err) {
      if (err.unavailable) {
        fill(body, unavailableBox("The user messages API",
          `It needs API version 3.3 and this server speaks up to ${session.maxVersion}. Meanwhile each volume's timeline shows its messages.`));
      } else {
        fill(body, errorBox(err, "Could not load the messages"));
      }
      return;
    }
    const items = data?.messages || [];
    const hasNext = Array.isArray(data?.messages_links) && data.messages_links.some((l) => l.rel === "next");
    const prev = h("button", { type: "button", class: "btn", disabled: !state.markers.length, onclick: () => { state.markers.pop(); load(); } }, "← Previous");
    const next = h("button", { type: "button", class: "btn", disabled: !hasNext, onclick: () => { state.markers.push(items[items.length - 1].id); load(); } }, "Next →");
    fill(body,
      h("div", { class: "table-wrap" }, h("table", { class: "table responsive", "data-testid": "messages-table" },
        h("caption", { class: "sr-only" }, "User messages"),
        h("thead", {}, h("tr", {}, ["When", "Level", "About", "Message", "Event", "Request", ""].map((c) => h("th", { scope: "col" }, c || h("span", { class: "sr-only" }, "Actions"))))),
        h("tbody", {}, items.length ? items.map((m) => h("tr", { dataset: { messageId: m.id } },
          h("td", { "data-label": "When" }, timeCell(m.created_at)),
          h("td", { "data-label": "Level" }, h("span", { class: m.message_level === "ERROR" ? "badge badge-bad" : "badge badge-neutral" }, m.message_level || "?")),
          h("td", { "data-label": "About" }, m.resource_uuid
            ? (m.resource_type === "VOLUME" ? h("a", { href: `#/volumes/${m.resource_uuid}` }, `volume ${shortId(m.resource_uuid)}`) : `${(m.resource_type || "").toLowerCase()} ${shortId(m.resource_uuid)}`)
            : "—"),
          h("td", { "data-label": "Message" }, m.user_message),
          h("td", { "data-label": "Event" }, h("code", {}, m.event_id)),
          h("td", { "data-label": "Request" }, h("code", { class: "small" }, m.request_id || "—")),
          h("td", { class: "actions" }, h("button", {
            type: "button", class: "btn btn-small", "aria-label": `Dismiss message ${shortId(m.id)}`,
            onclick: async () => {
              try {
                await del(`/messages/${m.id}`, { version });
                toast("Message dismissed.");
              } catch (err) {
                toast(err.message, "error");
              }
              load();
            },
          }, "Dismiss")))) : emptyRow(7, "No messages. Nothing went wrong after an accepted request.")))),
      paged ? h("div", { class: "pager" }, prev, h("span", { class: "muted" }, `Page ${state.markers.length + 1}`), next) : null);
  }
  load();
  return () => {};
}
