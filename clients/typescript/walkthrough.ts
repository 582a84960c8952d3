// The README walk-through through the TypeScript client generated from openapi.json (make clients):
// openapi-typescript makes the types, openapi-fetch the calls.
//
//   node clients/generated/typescript/out/walkthrough.js http://127.0.0.1:3000 "$ADMIN_KEY"
//
// Creates two subscribers, office hours and a scenario, validates, publishes and simulates it, checking each
// answer; prints one line per step and exits 1 on the first surprise. Run it against an empty tenant.
import createClient from "openapi-fetch";
import type { components, paths } from "../generated/typescript/schema.js";

type Schemas = components["schemas"];

const [baseUrl, apiKey] = process.argv.slice(2);
if (!baseUrl || !apiKey) {
  console.error("usage: walkthrough.js BASE_URL ADMIN_KEY");
  process.exit(2);
}
const api = createClient<paths>({ baseUrl, headers: { "X-Api-Key": apiKey } });

function check(condition: unknown, problem: unknown): asserts condition {
  if (!condition) {
    console.error("unexpected:", JSON.stringify(problem));
    process.exit(1);
  }
}

const seedScenario: Schemas["ScenarioCreate"] = {
  id: "main",
  name: "Main line",
  elements: [
    { id: "start", type: "incoming_call" },
    { id: "mgr", type: "internal_subscriber", extension: "101", limit_wait: true, wait_seconds: 20 },
    { id: "sales", type: "internal_subscriber", extension: "102" },
  ],
  connections: [
    { from: "start", to: "mgr" },
    { from: "mgr", exit: "no_answer", to: "sales" },
  ],
};
const officeHours: Schemas["ScheduleCreate"] = {
  id: "office",
  name: "Office hours",
  timezone: "Europe/Moscow",
  holidays: { country: "RU" },
  weekly: { mon: ["09:00-18:00"], tue: ["09:00-18:00"], wed: ["09:00-18:00"], thu: ["09:00-18:00"], fri: ["09:00-18:00"] },
};

for (const [extension, name] of [["101", "Anna Petrova"], ["102", "Boris Sokolov"]] as const) {
  // The same Idempotency-Key on a retry replays the first answer instead of creating twice.
  const header = { "idempotency-key": `walkthrough-${extension}-${crypto.randomUUID()}` };
  const created = await api.POST("/v1/subscribers", { params: { header }, body: { extension, name } });
  check(created.response.status === 201 && created.data, created.error);
  check(created.response.headers.get("ETag") === '"1"', [...created.response.headers]);
  console.log(`subscriber ${created.data.extension} ${created.data.name}: ETag ${created.response.headers.get("ETag")}`);
}
const page = await api.GET("/v1/subscribers", { params: { query: { limit: 1 } } });
check(page.data && page.data.items.map((s) => s.extension).join() === "101" && page.data.next_cursor, page.error);
console.log(`listSubscribers limit=1: ${page.data.items[0]?.extension}, next_cursor set`);

const schedule = await api.POST("/v1/schedules", { body: officeHours });
check(schedule.response.status === 201 && schedule.data, schedule.error);
console.log(`schedule ${schedule.data.id}`);

const draft = await api.POST("/v1/scenarios", { body: seedScenario });
check(draft.response.status === 201 && draft.data?.validation?.ok, draft.error ?? draft.data);
check(draft.response.headers.get("Location") === "/v1/scenarios/main", [...draft.response.headers]);
console.log(`scenario ${draft.data.id}: version ${draft.data.version}, valid`);

const path = { scenario_id: "main" };
const report = await api.POST("/v1/scenarios/{scenario_id}/validate", { params: { path } });
check(report.data?.ok && report.data.version === 1, report.error ?? report.data);
const published = await api.POST("/v1/scenarios/{scenario_id}/publish", {
  params: { path, header: { "if-match": `"${report.data.version}"` } },
});
check(published.response.status === 201 && published.data?.current, published.error ?? published.data);
console.log(`published version ${published.data.version} (Location ${published.response.headers.get("Location")})`);

const run = await api.POST("/v1/scenarios/{scenario_id}/simulate", {
  params: { path },
  body: { version: 1, at: "2026-11-23T10:00:00+03:00", outcomes: { mgr: "busy" } },
});
check(run.data, run.error);
// `type` discriminates the action union: inside the filter, `action` is a RingAction with its targets.
const rung = run.data.steps.flatMap((step) => (step.action?.type === "ring" ? [step.action.targets[0]?.extension] : []));
check(run.data.path.join() === "start,mgr,sales" && rung.join() === "101,102", run.data);
console.log(`simulated: ${run.data.path.join(" → ")}, ended ${run.data.result.status} (${run.data.result.reason})`);
