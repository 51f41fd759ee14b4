// `ferry init DIR`: a folder to write DAGs in outside Ferry's checkout, that an editor understands with
// no network and nothing installed: tsconfig.json maps "ferry" (`paths`) to the SDK's type declarations,
// copied into types/ferry/, so `import { dag } from "ferry"` completes and type errors show as you type.
// Files that exist are kept, except types/ferry/ (Ferry's own): running init again refreshes the types.
import { existsSync } from "node:fs";
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { FERRY_VERSION } from "../config/config.ts";
import { DAG_COMPILER_OPTIONS, sdkDeclarations } from "../dagfile/typecheck.ts";
import { flag, type ParsedArgs } from "./args.ts";
import { CliError } from "./client.ts";

type Out = (line: string) => void;

export const TYPES_DIR = path.join("types", "ferry");
export const EXAMPLE_DAG = path.join("dags", "hello.ts");

const TSCONFIG = {
  compilerOptions: { ...DAG_COMPILER_OPTIONS, paths: { ferry: [`./${TYPES_DIR.split(path.sep).join("/")}/index.d.ts`] } },
  include: ["**/*.ts"],
  exclude: ["node_modules"],
};

const EXAMPLE = `import { dag, task, podTask } from "ferry";

// A DAG: its options, then its tasks. Check it with \`ferry dags check ${EXAMPLE_DAG}\`, run it once on this
// machine with \`ferry dags test ${EXAMPLE_DAG} --param name=you\`, send it to Ferry with \`ferry dags push\`.
export default dag("hello", {
  schedule: null, // manual runs only; or cron, e.g. "0 2 * * *", with timezone: "Asia/Seoul"
  params: { name: "world" },
  defaults: { retries: 1, retryDelay: "10s", timeout: "5m" },
}, () => {
  // A pod task runs a container of your image; its strings are templates.
  const greet = podTask("greet", {
    image: "alpine:3.20",
    command: ["sh", "-c", "echo hello {{ params.name }} on {{ logicalDate }}"],
  });
  // A function task runs this function in Ferry's worker image; what it returns is its result.
  task("count", async (ctx) => {
    const name = String(ctx.params.name);
    ctx.log(\`counting the letters of \${name}\`);
    return { letters: name.length };
  }, { dependsOn: [greet] });
});
`;

const README = `# DAGs for Ferry

Each file in \`dags/\` is one DAG: it imports only from \`"ferry"\` and default-exports a \`dag(...)\`.
Open this folder in an editor: \`tsconfig.json\` maps \`"ferry"\` to the type declarations in
\`types/ferry/\` (Ferry ${FERRY_VERSION}'s SDK), so completion and type errors work without installing
anything. \`npx tsc --noEmit\` (with any TypeScript 5) checks every file at once.

    ferry dags check dags/hello.ts            # type check + the server's own validation, FILE:LINE:COL
    ferry dags test dags/hello.ts --param name=you   # run it once here: embedded Postgres and localkube
    ferry dags push dags/hello.ts             # send it to Ferry (FERRY_URL, FERRY_API_TOKEN)

Running \`ferry init\` on this folder again refreshes \`types/ferry/\` for the Ferry you have and keeps
every other file. See Ferry's README, "Writing DAGs", for the options and the task context.
`;

export async function init(args: ParsedArgs, out: Out): Promise<number> {
  const [dir] = args.positional;
  const root = path.resolve(dir!);
  if (existsSync(root) && !(await isDirectory(root))) throw new CliError(`${dir} exists and is not a folder`);
  const declarations = await sdkDeclarations();
  const files: { rel: string; text: string; ours?: boolean }[] = [
    { rel: "tsconfig.json", text: JSON.stringify(TSCONFIG, null, 2) + "\n" },
    { rel: EXAMPLE_DAG, text: EXAMPLE },
    { rel: "README.md", text: README },
    ...[...declarations].map(([name, text]) => ({
      rel: path.join(TYPES_DIR, name),
      text: `// The type declarations of Ferry ${FERRY_VERSION}'s SDK ("ferry"), written by \`ferry init\`; it rewrites them.\n${text}`,
      ours: true,
    })),
  ];
  // types/ferry/ is Ferry's: a refresh also drops what an older SDK had and this one has not.
  await rm(path.join(root, TYPES_DIR), { recursive: true, force: true });
  const written: string[] = [];
  const kept: string[] = [];
  for (const f of files) {
    const file = path.join(root, f.rel);
    if (!f.ours && existsSync(file)) {
      kept.push(f.rel);
      continue;
    }
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, f.text);
    written.push(f.rel);
  }
  if (flag(args, "json")) {
    out(JSON.stringify({ dir: root, written, kept }, null, 2));
    return 0;
  }
  for (const rel of written) out(`wrote ${path.join(dir!, rel)}`);
  for (const rel of kept) out(`kept  ${path.join(dir!, rel)} (it exists)`);
  out("");
  out(`next: cd ${dir} && ferry dags check ${EXAMPLE_DAG} && ferry dags test ${EXAMPLE_DAG}`);
  return 0;
}

async function isDirectory(p: string): Promise<boolean> {
  try {
    await readdir(p);
    return true;
  } catch {
    return false;
  }
}
