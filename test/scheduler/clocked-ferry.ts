// A whole test Ferry for the scheduler tests that need real Pods, its scheduler on the test's clock.
import { createWakeup } from "../../db/wakeup.ts";
import { silentLogger } from "../../lib/logger.ts";
import { Scheduler } from "../../scheduler/scheduler.ts";
import { startTestFerry, type TestFerry } from "../support/ferry.ts";

/**
 * A whole test Ferry (API, executor, localkube, a folder log store) whose scheduler runs on `clock`:
 * schedule ticks come due when the test says, while Pods run in real time.
 */
export async function startClockedFerry(clock: () => Date): Promise<{ f: TestFerry; close(): Promise<void> }> {
  const f = await startTestFerry({ s3: false, env: { FERRY_COMPONENTS: "api,executor" } });
  const wakeup = await createWakeup(f.ferry.db);
  const scheduler = new Scheduler(f.ferry.db, wakeup, silentLogger, { clock, pollIntervalMs: 100 });
  scheduler.start();
  return {
    f,
    async close() {
      await scheduler.stop();
      await wakeup.close();
      await f.close();
    },
  };
}
