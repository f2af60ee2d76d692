// The timeline of a volume (GET /clinker/v1/volumes/{id}/timeline): the flows that worked
// on it, each task's states and times on one shared time scale, the scheduler's decision
// (every node, each filter's verdict and reason, the weights), and the user messages.
// At the top, the story in milestones, so that "202 Accepted" and "the volume exists"
// are visibly two different moments.

import { get } from "./api.js";
import { h, fill, statusBadge, micros, fmtDuration, errorBox, unavailableBox } from "./ui.js";

const FLOWS = {
  volume_create_api: "API: check the request, reserve quota, store the row, hand it to the scheduler. Ends with the 202 answer.",
  volume_create_scheduler: "Scheduler: filter and weigh the nodes, pick one, record the choice.",
  volume_create_manager: "Node: create the storage with the driver, then mark the volume available.",
};

const TASKS = {
  ExtractVolumeRequestTask: "Check the request: size, type, zone, source",
  QuotaReserveTask: "Reserve quota (volumes, gigabytes)",
  EntryCreateTask: "Store the volume row, status creating",
  QuotaCommitTask: "Commit the quota reservation",
  VolumeCastTask: "Hand the volume to the scheduler",
  ExtractSchedulerSpecTask: "Read the request spec",
  ScheduleCreateVolumeTask: "Filter and weigh the nodes, pick one",
  ExtractVolumeRefTask: "Load the volume on the chosen node",
  OnFailureRescheduleTask: "If creation fails: back to the scheduler, this node excluded",
  CreateVolumeFromSpecTask: "The driver creates the storage",
  CreateVolumeOnFinishTask: "Mark the volume available",
};

/** Only the clock part of Cinder's UTC time, with microseconds. */
const clock = (t) => (t ? String(t).split("T")[1] || t : "—");

/** Tasks of a flow from its transitions, in the order they first ran. */
export function tasksOf(flow) {
  const tasks = new Map();
  for (const tr of flow.transitions || []) {
    if (!tr.task) continue;
    if (!tasks.has(tr.task)) tasks.set(tr.task, { name: tr.task, states: [] });
    tasks.get(tr.task).states.push(tr);
  }
  return [...tasks.values()].map((t) => {
    const last = t.states[t.states.length - 1];
    const error = t.states.find((s) => s.error)?.error || null;
    return { ...t, state: last.state, start: t.states[0].at, end: last.at, error };
  });
}

function decisionOf(flow) {
  const d = flow.detail;
  if (!d || typeof d !== "object") return null;
  for (const v of Object.values(d)) if (v && Array.isArray(v.pools)) return v;
  return Array.isArray(d.pools) ? d : null;
}

function flowError(flow) {
  return (flow.transitions || []).find((t) => t.error)?.error || null;
}

// ---- the story ---------------------------------------------------------------------

function milestones(flows, t0) {
  const out = [];
  const at = (t) => ({ t, rel: micros(t) - t0 });
  const api = flows.find((f) => f.flow === "volume_create_api");
  if (api) {
    out.push({ ...at(api.started_at), kind: "neutral", title: "Request received", text: "POST /volumes reached the API." });
    if (api.state === "SUCCESS") {
      out.push({
        ...at(api.finished_at), kind: "accepted", key: "accepted",
        title: "202 Accepted sent to the client: status “creating”",
        text: "This is all the API promised: the request was valid, quota was reserved and a row was stored. No storage existed yet.",
      });
    } else {
      out.push({ ...at(api.finished_at), kind: "bad", title: `The API refused the request (${api.state})`, text: flowError(api) || "Every step before the failure was undone: no row, no reservation." });
    }
  }
  for (const f of flows) {
    if (f.flow === "volume_create_scheduler") {
      const d = decisionOf(f);
      if (f.state === "SUCCESS") {
        out.push({ ...at(f.finished_at), kind: "neutral", title: `Scheduler chose ${d?.chosen || "a node"}`, text: d ? `${d.pools_passed ?? "?"} of ${d.pools_considered ?? "?"} nodes passed the filters.` : "" });
      } else {
        out.push({ ...at(f.finished_at), kind: "bad", title: "Scheduler found no node for it", text: flowError(f) || "Every node was rejected by a filter; see the decision below." });
      }
    } else if (f.flow === "volume_create_manager") {
      if (f.state === "SUCCESS") {
        out.push({ ...at(f.finished_at), kind: "ok", key: "created", title: "Volume created: status “available”", text: "Only now does the volume exist and can be used." });
      } else {
        out.push({ ...at(f.finished_at), kind: "bad", title: `Creation failed on the node (${f.state})`, text: flowError(f) || "" });
      }
    } else if (f.flow !== "volume_create_api") {
      out.push({ ...at(f.finished_at || f.started_at), kind: f.state === "SUCCESS" ? "neutral" : "bad", title: `${f.flow}: ${f.state}`, text: flowError(f) || "" });
    }
  }
  return out.sort((a, b) => a.rel - b.rel);
}

function story(flows, t0) {
  const ms = milestones(flows, t0);
  const accepted = ms.find((m) => m.key === "accepted");
  const created = ms.find((m) => m.key === "created");
  let verdict;
  if (accepted && created) {
    verdict = h("p", { class: "verdict ok", "data-testid": "verdict" }, `The client heard “accepted” ${fmtDuration(created.rel - accepted.rel)} before the volume existed.`);
  } else if (accepted && ms.some((m) => m.kind === "bad")) {
    verdict = h("p", { class: "verdict bad", "data-testid": "verdict" }, "The API said 202 Accepted, but the volume was never created.");
  } else if (accepted) {
    verdict = h("p", { class: "verdict busy", "data-testid": "verdict" }, "Accepted; not created yet. This page follows it live.");
  }
  return h("section", { class: "card story", "aria-labelledby": "story-title" },
    h("h2", { id: "story-title" }, "Accepted is not created"),
    verdict,
    h("ol", { class: "milestones" }, ms.map((m) => h("li", { class: `milestone m-${m.kind}`, dataset: { milestone: m.key || "" } },
      h("span", { class: "m-dot", "aria-hidden": "true" }),
      h("div", { class: "m-body" },
        h("div", { class: "m-title" }, m.title),
        m.text ? h("div", { class: "m-text" }, m.text) : null,
        h("div", { class: "m-time muted" }, h("time", { title: `${m.t} UTC` }, `${clock(m.t)} UTC`), ` · +${fmtDuration(m.rel)}`))))));
}

// ---- flows and tasks -----------------------------------------------------------------

function bar(start, end, t0, span, state) {
  const b = h("span", { class: `bar bar-${String(state).toLowerCase()}` });
  const s = micros(start) - t0;
  const e = micros(end) - t0;
  b.style.left = `${Math.max(0, (s / span) * 100)}%`;
  b.style.width = `${Math.max(0.6, ((e - s) / span) * 100)}%`;
  b.title = `${fmtDuration(e - s)} from +${fmtDuration(s)}`;
  return h("span", { class: "track" }, b);
}

function flowCard(f, t0, span, index) {
  const tasks = tasksOf(f);
  const d = decisionOf(f);
  const titleId = `flow-${index}`;
  return h("section", { class: "card flow", "aria-labelledby": titleId, dataset: { flow: f.flow, state: f.state } },
    h("div", { class: "section-head" },
      h("h3", { id: titleId }, h("code", {}, f.flow), " ", statusBadge(f.state)),
      h("span", { class: "muted" }, `${clock(f.started_at)} → ${clock(f.finished_at)} UTC · took ${fmtDuration(micros(f.finished_at) - micros(f.started_at))}`)),
    FLOWS[f.flow] ? h("p", { class: "muted flow-what" }, FLOWS[f.flow]) : null,
    h("p", { class: "muted small" }, "Request ", h("code", {}, f.request_id || "—"), " · run ", h("code", {}, f.id)),
    h("div", { class: "table-wrap" }, h("table", { class: "table compact tasks responsive" },
      h("caption", { class: "sr-only" }, `Tasks of ${f.flow}`),
      h("thead", {}, h("tr", {}, ["Task", "State", "Started (UTC)", "Finished (UTC)", "Took", "When"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, tasks.map((t) => h("tr", { dataset: { task: t.name, state: t.state } },
        h("td", { "data-label": "Task" }, h("code", {}, t.name), TASKS[t.name] ? h("div", { class: "muted small" }, TASKS[t.name]) : null,
          t.error ? h("div", { class: "task-error" }, t.error) : null,
          t.states.length > 2 ? h("div", { class: "muted small" }, t.states.map((s) => `${s.state} ${clock(s.at)}`).join(" → ")) : null),
        h("td", { "data-label": "State" }, statusBadge(t.state)),
        h("td", { "data-label": "Started" }, h("time", {}, clock(t.start))),
        h("td", { "data-label": "Finished" }, h("time", {}, clock(t.end))),
        h("td", { "data-label": "Took" }, fmtDuration(micros(t.end) - micros(t.start))),
        h("td", { class: "when", "data-label": "When" }, bar(t.start, t.end, t0, span, t.state))))))),
    d ? decisionTable(d) : null);
}

function decisionTable(d) {
  const filters = [];
  for (const p of d.pools || []) for (const f of p.filters || []) if (!filters.includes(f.filter)) filters.push(f.filter);
  const short = (n) => n.replace(/Filter$/, "");
  const rows = [...(d.pools || [])].sort((a, b) => (b.host === d.chosen) - (a.host === d.chosen) || (b.weight ?? -Infinity) - (a.weight ?? -Infinity));
  return h("div", { class: "decision", "data-testid": "decision" },
    h("h4", {}, "The scheduler's decision"),
    h("p", {}, `${d.pools_considered ?? rows.length} node${rows.length === 1 ? "" : "s"} considered, ${d.pools_passed ?? "?"} passed every filter; `,
      d.chosen ? h("span", {}, "chose ", h("strong", {}, d.chosen), " (highest weight).") : h("strong", { class: "bad-text" }, "none could take the volume.")),
    h("div", { class: "table-wrap" }, h("table", { class: "table compact decision-table responsive" },
      h("caption", { class: "sr-only" }, "Each node, each filter's verdict, and the weight"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Node"), filters.map((f) => h("th", { scope: "col", title: f }, short(f))), h("th", { scope: "col" }, "Weight"), h("th", { scope: "col" }, "Verdict"))),
      h("tbody", {}, rows.map((p) => {
        const byName = new Map((p.filters || []).map((f) => [f.filter, f]));
        const rejected = (p.filters || []).find((f) => !f.passed);
        const chosen = p.host === d.chosen;
        return h("tr", { class: chosen ? "chosen" : rejected ? "rejected" : "", dataset: { node: p.node || "", host: p.host || "" } },
          h("th", { scope: "row", "data-label": "Node" }, h("strong", {}, p.node || "?"), h("div", { class: "muted small" }, h("code", {}, p.host))),
          filters.map((name) => {
            const f = byName.get(name);
            if (!f) return h("td", { class: "f-skip", "data-label": short(name) }, h("span", { "aria-label": "not run" }, "–"));
            if (f.passed) return h("td", { class: "f-pass", "data-label": short(name) }, h("span", { "aria-label": "passed" }, "✓"));
            return h("td", { class: "f-fail", "data-label": short(name) }, h("span", { "aria-hidden": "true" }, "✗ "), h("span", {}, f.reason || "rejected"));
          }),
          h("td", { "data-label": "Weight" }, p.weight === null || p.weight === undefined ? "—" : Number(p.weight).toFixed(3)),
          h("td", { "data-label": "Verdict" }, chosen ? h("span", { class: "badge badge-ok" }, "chosen")
            : rejected ? h("span", {}, `rejected by ${short(rejected.filter)}`)
              : h("span", {}, "passed, lower weight")));
      })))));
}

function messagesCard(messages) {
  if (!messages?.length) return null;
  return h("section", { class: "card", "aria-labelledby": "tl-msgs" },
    h("h3", { id: "tl-msgs" }, "Messages for the user"),
    h("ul", { class: "plain messages" }, messages.map((m) => h("li", { class: "message" },
      h("div", { class: "m-title" }, m.user_message),
      m.detail ? h("div", {}, m.detail) : null,
      h("div", { class: "muted small" }, `${clock(m.created_at)} UTC · `, h("code", {}, m.event_id), " · request ", h("code", {}, m.request_id || "—"))))));
}

/** Renders into `root`; `refresh()` reloads (and redraws only when something changed). */
export function renderTimeline(root, id) {
  let last = "";
  fill(root, h("p", { class: "muted" }, "Loading the timeline…"));
  async function refresh() {
    let data;
    try {
      data = await get(`/clinker/v1/volumes/${id}/timeline`);
    } catch (err) {
      fill(root, err.unavailable ? unavailableBox("The timeline") : errorBox(err, "Could not load the timeline"));
      last = "";
      return;
    }
    const text = JSON.stringify(data);
    if (text === last) return;
    last = text;
    const flows = (data?.flows || []).filter((f) => f.started_at);
    if (!flows.length) {
      fill(root, h("p", { class: "muted" }, "Nothing recorded for this volume yet."), messagesCard(data?.messages));
      return;
    }
    const starts = flows.map((f) => micros(f.started_at));
    const ends = flows.map((f) => micros(f.finished_at || f.started_at));
    const t0 = Math.min(...starts);
    const span = Math.max(1, Math.max(...ends) - t0);
    fill(root, h("div", { class: "timeline", "data-testid": "timeline" },
      story(flows, t0),
      h("p", { class: "muted small" }, "Times are UTC with microseconds. The bars share one scale, from the first event to the last."),
      flows.map((f, i) => flowCard(f, t0, span, i)),
      messagesCard(data?.messages)));
  }
  return { refresh };
}
