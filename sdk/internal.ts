// What the sandbox and the worker need besides the public API: the same runtime module instance, so
// the dag() a bundle returns is recognised (instanceof) and its tasks can be found and described.
import * as sdk from "./index.ts";

export { sdk };
export { describeDag, findTask, isDag } from "./dag.ts";
export type { DagImpl, RawDag, RegisteredTask, Unsupported } from "./dag.ts";
