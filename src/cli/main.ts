/**
 * The kubewire command line: parses, wires the parts together, maps failures to exit codes.
 * Each command's module is imported only when that command runs: the proxy, the demo cluster,
 * the terminal view and their libraries take longer to load than most commands take to run,
 * and a process that never serves should not carry them.
 */
import { Command, CommanderError, Option } from 'commander';
import type { AuditFlags, AuditSettings } from './audit-setup.js';
import { gatewayHelp } from '../demo/gateway-profiles.js';
import { roleHelp } from '../demo/rbac.js';
import { CliError, ExitCode } from '../io/errors.js';
import { holdRelayYoungGeneration } from '../proxy/relay-heap.js';
import { TRANSLATE_MODES } from '../translate/mode.js';
import { StdoutOutput } from '../io/output.js';
import { VERSION } from '../version.js';

/** The commands whose thread relays kubectl's bytes (src/proxy/relay-heap.ts). */
const RELAY_COMMANDS = new Set(['proxy', 'gateway', 'run', 'demo']);

export function buildProgram(): Command {
  const program = new Command('kubewire')
    .description('A streaming-aware diagnostic proxy for kubectl exec, attach, cp and port-forward.\nDecodes WebSocket (v1-v5 channels), SPDY/3.1 and the port-forward tunnel byte-exactly.')
    .version(VERSION, '--version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .enablePositionalOptions()
    // Before the command's modules load: loading alone grows V8's young generation.
    .hook('preAction', (_program, command) => {
      if (RELAY_COMMANDS.has(command.name())) holdRelayYoungGeneration();
    });

  program
    .command('decode')
    .description('Decode one captured connection: two files, one per TCP direction, each starting with its HTTP head\n(for example Wireshark\'s "Follow TCP stream" saved as raw, or tcpflow output). Either file alone decodes what that side holds.')
    .option('--c2s <file>', 'bytes the client (kubectl) sent')
    .option('--s2c <file>', 'bytes the server sent')
    .option('--summary', 'print the connection summary (JSON) instead of the events')
    .option('--text', 'print one readable line per event instead of JSONL')
    .option('--findings', 'run the diagnosis rules over the capture and print the findings, as kubewire run does')
    .option('--json', 'JSONL (the default for events); with --findings, the finding events')
    .addOption(new Option('--payload <mode>', 'payload bytes recorded in events').choices(['full', 'head', 'none']).default('full'))
    .addHelpText('after', '\nExamples:\n  kubewire decode --c2s exec.c2s --s2c exec.s2c\n  kubewire decode --c2s exec.c2s --s2c exec.s2c --summary\n  kubewire decode --c2s pf.c2s --s2c pf.s2c --text\n  kubewire decode --c2s exec.c2s --s2c exec.s2c --findings\n  kubewire decode --s2c exec.s2c --text')
    .action(async (opts) => {
      const { runDecode } = await import('./decode-command.js');
      process.exitCode = await runDecode(opts, new StdoutOutput(), new StdoutOutput(process.stderr));
    });

  const proxyFlags = (cmd: Command): Command =>
    cmd
      .option('--kubeconfig <file>', 'kubeconfig to read (default: $KUBECONFIG, then ~/.kube/config)')
      .option('--context <name>', 'kubeconfig context to use (default: the current context)')
      .option('--log <file>', 'JSONL log to write (default: a new file under ~/.local/state/kubewire/logs)')
      .addOption(new Option('--payload <mode>', 'payload recorded per message: full (every byte, never dropped), head (first 256 bytes), none (sizes)').choices(['full', 'head', 'none']).default('head'))
      .option('--audit', 'write an audit log: every byte (implies --payload full, never drops: a slow disk slows the session), hash-chained, with who, which pod, which command and the exit code of each session')
      .addOption(new Option('--audit-fail <mode>', 'when the audit log cannot be written: closed (refuse new sessions with 503, end open ones) or open (keep serving, record the gap)').choices(['closed', 'open']))
      .option('--audit-key-file <file>', 'make the chain an HMAC-SHA256 under this key (at least 16 bytes), so it cannot be recomputed without it')
      .addOption(new Option('--redact-stdin <mode>', 'stdin kept in the audit log: none (all of it), echo-off (replace tty input that never came back as echo, such as passwords, by its length), all (lengths only)').choices(['none', 'echo-off', 'all']))
      .option('--audit-signing-key <file>', 'sign every seal with this Ed25519 private key (PEM; openssl genpkey -algorithm ed25519), so that `kubewire verify --public-key` can check the log without being able to write one')
      .addOption(new Option('--audit-store <store>', 'experimental: write the audit records to a store: a directory, or postgres://… (see kubewire sessions)').hideHelp())
      .addOption(new Option('--audit-replica <name>', 'experimental: this process\'s name among the replicas writing to one --audit-store (default: the host name)').hideHelp())
      .option('--max-size <size>', 'rotate the audit log at this size (e.g. 100M; every file stays within it); the chain goes on across files named <log>-0001.jsonl, <log>-0002.jsonl, …')
      .addOption(new Option('--translate <mode>', 'off (relay every upgrade byte-exactly); spdy-to-ws: answer SPDY exec/attach/port-forward here and speak WebSocket upstream (v5.channel.k8s.io, the port-forward tunnel), for gateways that refuse SPDY; ws-to-spdy: answer WebSocket exec/attach (v5, v4, channel.k8s.io) and the port-forward tunnel here and speak SPDY/3.1 upstream, for clusters that stream only over SPDY behind a path that refuses it; auto: relay as off until the upstream refuses a transport as not served here (400 Upgrade request required, a 403/404 not from the API server, no answer), then translate that transport\'s next upgrades').choices([...TRANSLATE_MODES]).default('off'));

  proxyFlags(
    program
      .command('proxy')
      .description('Serve a proxy in front of the cluster of your kubeconfig: point kubectl at it and every exec, attach, cp and port-forward is decoded live and logged.')
      .option('--listen <host:port>', 'address to listen on (port 0 picks a free port)', '127.0.0.1:0')
      .option('--write-kubeconfig <file>', 'where to write the kubeconfig for kubectl (default: under ~/.local/state/kubewire)')
      .option('--no-tui', 'print one line per kubectl command instead of the interactive view')
      .addHelpText('after', '\nExamples:\n  kubewire proxy\n  kubewire proxy --context prod --audit --audit-key-file /etc/kubewire/audit.key --max-size 100M --log /var/log/kubewire/audit.jsonl --no-tui'),
  ).action(async (opts, cmd: Command) => {
    const { runProxy } = await import('./proxy-command.js');
    const audit = await auditFrom(opts, cmd);
    await exitWhenFlushed(await runProxy({ ...opts, audit }, new StdoutOutput(), new StdoutOutput(process.stderr)));
  });

  program
    .command('gateway')
    .description('Serve a shared, audited gateway in front of the cluster for a whole team: each user with their own credential, every session recorded under its user, JSON logs on stdout, /healthz, /readyz and /metrics.')
    .option('--upstream-kubeconfig <file>', 'kubeconfig of the cluster (passthrough: its server and CA only; impersonate: also the gateway\'s own credential)')
    .option('--context <name>', 'kubeconfig context to use (default: the current context)')
    .option('--listen <host:port>', 'address to serve kubectl on', '0.0.0.0:8443')
    .option('--tls-cert <file>', 'serving certificate (PEM; default: one from a CA generated at start, written into --write-kubeconfig)')
    .option('--tls-key <file>', 'its private key (PEM)')
    .option('--tls-ca <file>', 'with --tls-cert: the CA to put into --write-kubeconfig (default: none, the system roots)')
    .option('--server-url <url>', 'the URL clients reach the gateway at, for --write-kubeconfig and the generated certificate (default: the listen address)')
    .addOption(new Option('--identity <mode>', 'passthrough (each user\'s own token goes to the API server) or impersonate (users authenticate to kubewire; it acts as them with Impersonate-*)').choices(['passthrough', 'impersonate']).default('passthrough'))
    .option('--client-ca <file>', 'impersonate: accept client certificates signed by this CA (CN the user, O the groups)')
    .option('--store <dir|postgres://…>', 'where audit records go: a directory (hash-chained files, DIR/REPLICA/audit-STAMP.jsonl) or a PostgreSQL URL')
    .option('--name <replica>', 'this replica\'s name in the store (default: the host name)')
    .option('--write-kubeconfig <file>', 'write the kubeconfig to hand out: the upstream one, its cluster pointing at the gateway, every user kept')
    .option('--metrics-listen <host:port>', 'plain HTTP address for /healthz, /readyz and /metrics', '0.0.0.0:9090')
    .option('--log-buffer <size>', 'how much of the JSON log may wait for a stdout that is not read; past it lines are dropped and counted (default 4M)')
    .addOption(new Option('--audit-fail <mode>', 'when the audit trail cannot be written: closed (refuse new sessions with 503) or open (keep serving, record the gap)').choices(['closed', 'open']))
    .option('--audit-key-file <file>', 'make the chain an HMAC-SHA256 under this key (at least 16 bytes)')
    .option('--audit-signing-key <file>', 'sign every seal with this Ed25519 private key (PEM); kubewire verify --public-key checks them')
    .addOption(new Option('--redact-stdin <mode>', 'stdin kept in the audit trail: none, echo-off or all').choices(['none', 'echo-off', 'all']))
    .option('--max-size <size>', 'rotate the audit files at this size (e.g. 100M)')
    .addHelpText('after', '\nExamples:\n  kubewire gateway --upstream-kubeconfig cluster.kubeconfig --store /var/lib/kubewire --write-kubeconfig team.kubeconfig\n  kubewire gateway --upstream-kubeconfig sa.kubeconfig --identity impersonate --client-ca users-ca.crt --tls-cert tls.crt --tls-key tls.key')
    .action(async (opts) => {
      const { runGateway } = await import('./gateway-command.js');
      await exitWhenFlushed(await runGateway(opts, new StdoutOutput()));
    });

  proxyFlags(
    program
      .command('run')
      .description('Run one command (usually kubectl) through a private kubewire proxy; its terminal, signals and exit code pass straight through, and a line per kubectl command follows on stderr.')
      .argument('<command...>', 'the command and its arguments, after --')
      .passThroughOptions()
      .addHelpText('after', '\nExamples:\n  kubewire run -- kubectl exec -it web -- sh\n  kubewire run --payload full --log cp.jsonl -- kubectl cp ./big.tar web:/tmp/big.tar\n  kubewire run --audit --audit-key-file audit.key --redact-stdin echo-off -- kubectl exec -it web -- sh\n  kubewire run --translate spdy-to-ws -- kubectl exec web -- ls   # kubectl 1.29 or older behind a gateway that refuses SPDY'),
  ).action(async (command: string[], opts, cmd: Command) => {
    const { runCommand } = await import('./run-command.js');
    const audit = await auditFrom(opts, cmd);
    process.exitCode = await runCommand({ ...opts, audit, command }, new StdoutOutput(process.stderr));
  });

  program
    .command('summary')
    .description('Print one line per upgraded connection of a JSONL log: its connection summary as compact JSON (the object `kubewire decode --summary` prints). With --sessions, one line per kubectl command instead. A broken or cut-off line is named on stderr and skipped.')
    .argument('<log>', 'a JSONL log written by kubewire (one still being written is fine)')
    .option('--sessions', 'one line per kubectl command: its verb, target, connections and their roles (request, attempt, fallback, stream), the WebSocket refusal that made kubectl fall back to SPDY, the exit code, bytes, times and finding rules')
    .addHelpText('after', "\nExamples:\n  kubewire summary ~/.local/state/kubewire/logs/kubewire-20261121-105703-4242.jsonl\n  kubewire summary run.jsonl | jq -c 'select(.exitCode != 0)'\n  kubewire summary --sessions run.jsonl | jq -c 'select(.fallback != null) | {verb, fallback}'")
    .action(async (log: string, opts: { sessions?: boolean }) => {
      const { runSummary } = await import('./summary-command.js');
      process.exitCode = await runSummary({ file: log, sessions: opts.sessions === true }, new StdoutOutput(), new StdoutOutput(process.stderr));
    });

  program
    .command('view')
    .description('Open the interactive view over a JSONL log written by kubewire; a log that is still being written is followed as tail -f follows it. Without a terminal, prints one line per kubectl command and stops at the end of a finished log.')
    .argument('<log>', 'a JSONL log written by kubewire')
    .option('--no-follow', 'read the log to its end and stop following it')
    .option('--no-tui', 'print one line per kubectl command instead of the interactive view')
    .option('--ring <n>', 'messages kept per stream lane in memory (older ones stay in the log)', (v) => Number(v))
    .action(async (log: string, opts) => {
      const { runView } = await import('./view-command.js');
      process.exitCode = await runView({ file: log, follow: opts.follow, tui: opts.tui, ...(opts.ring ? { ringSize: opts.ring } : {}) }, new StdoutOutput(), new StdoutOutput(process.stderr));
    });

  program
    .command('verify')
    .description('Check an audit log written with --audit: the hash chain, the seq continuity and the seals of every session and file. Names the first bad record (file, line, what is wrong). Exit 0 intact, 1 tampered, 2 unreadable.')
    .argument('[file...]', 'the audit log, or all parts of a rotated one in order (audit-0001.jsonl audit-0002.jsonl …)')
    .option('--key-file <file>', 'the --audit-key-file the log was written with (needed for an HMAC chain; a chain without it is then tampering)')
    .option('--public-key <file>', 'the Ed25519 public key (PEM) of the --audit-signing-key: every seal must carry a valid signature')
    .option('--store <store>', 'verify every replica\'s chain in an audit store (a directory, or postgres://…) instead of files')
    .option('--full-history', 'with --store DIR: fail when a replica\'s oldest run links to runs no longer there (by default that is told as where the history starts, for stores that a retention job prunes)')
    .option('--json', 'print the result as one JSON object')
    .addHelpText('after', '\nExamples:\n  kubewire verify audit.jsonl\n  kubewire verify audit-*.jsonl --key-file /etc/kubewire/audit.key\n  kubewire verify --store postgres://audit@db/kubewire --public-key audit.pub')
    .action(async (files: string[], opts) => {
      if (opts.store === undefined && files.length === 0) throw new CliError('KW_ERR_USAGE', 'verify needs the files of an audit log, or --store', ExitCode.Usage);
      if (opts.store !== undefined && files.length > 0) throw new CliError('KW_ERR_USAGE', 'verify takes files or --store, not both', ExitCode.Usage);
      if (opts.fullHistory && opts.store === undefined) throw new CliError('KW_ERR_USAGE', 'verify --full-history checks the runs of a store: give --store DIR', ExitCode.Usage);
      const { runVerify } = await import('./verify-command.js');
      process.exitCode = await runVerify({ files, ...(opts.keyFile ? { keyFile: opts.keyFile } : {}), ...(opts.publicKey ? { publicKey: opts.publicKey } : {}), ...(opts.store ? { store: opts.store } : {}), json: opts.json === true, fullHistory: opts.fullHistory === true }, new StdoutOutput(), new StdoutOutput(process.stderr));
    });

  program
    .command('sessions')
    .description('Search the sessions of an audit store: who ran what, where, when, and how it ended; one line per session, oldest first.')
    .requiredOption('--store <store>', 'the audit store: a directory, or postgres://…')
    .option('--user <name>', 'sessions of this user')
    .option('--pod <name>', 'sessions in this pod')
    .option('--verb <verb>', 'exec, attach, cp, portforward, log or rest')
    .option('--command <text>', 'the exec command, or a command line typed in a tty session, contains this text')
    .option('--since <when>', 'started at most this long ago (90s, 30m, 24h, 7d) or since this time')
    .option('--limit <n>', 'show at most n sessions, the newest (default 1000); a note on stderr tells when more matched')
    .option('--json', 'one JSON object per session')
    .addHelpText('after', '\nExamples:\n  kubewire sessions --store postgres://audit@db/kubewire --user alice --command rm --since 24h\n  kubewire sessions --store /var/lib/kubewire/audit --pod web --json')
    .action(async (opts) => {
      const { runSessions } = await import('./sessions-command.js');
      process.exitCode = await runSessions(opts, new StdoutOutput());
    });

  program
    .command('watch')
    .description('Follow a session of an audit store live, from another terminal, while it is recorded: its output as it happens, and a status line (user, pod, command, bytes, live or ended, exit code) on stderr. Ends with the session\'s exit code once it ends; Ctrl-C exits 130.')
    .argument('<session>', 'the session: its id as kubewire sessions prints it, or a unique prefix')
    .requiredOption('--store <store>', 'the audit store: a directory, or postgres://…')
    .addHelpText('after', '\nExamples:\n  kubewire watch --store postgres://audit@db/kubewire 3f2a\n  kubewire watch --store /var/lib/kubewire/audit 3f2a 2>/dev/null')
    .action(async (session: string, opts: { store: string }) => {
      const { runWatch } = await import('./watch-command.js');
      const stop = new AbortController();
      const onInt = (): void => stop.abort();
      process.on('SIGINT', onInt);
      try {
        process.exitCode = await runWatch({ store: opts.store, session }, process.stdout, process.stderr, stop.signal);
      } finally {
        process.off('SIGINT', onInt);
      }
    });

  program
    .command('replay')
    .description('Play an exec or attach session of a log back in the terminal, with its original timing and output sizes; ends with the session\'s exit code, as kubectl exec did.')
    .argument('[file...]', 'a log written with --audit or --payload full (all parts of a rotated log, in order); with --store, the session')
    .option('--store <store>', 'play a session of an audit store (a directory, or postgres://…): kubewire replay --store S SESSION')
    .option('--session <id>', 'the session to play (its Kubectl-Session id, or a unique prefix); needed when the log holds several')
    .option('--speed <n>', 'play n times faster', (v) => Number(v))
    .option('--max-idle <seconds>', 'shorten every pause to at most this long', (v) => Number(v))
    .addHelpText('after', '\nExamples:\n  kubewire replay audit.jsonl\n  kubewire replay audit.jsonl --session 3f2a --speed 4 --max-idle 2\n  kubewire replay --store postgres://audit@db/kubewire 3f2a')
    .action(async (args: string[], opts) => {
      const { runReplay } = await import('./replay-command.js');
      const { files, session } = storeArgs(args, opts);
      process.exitCode = await runReplay({ files, ...(opts.store ? { store: opts.store } : {}), ...(session ? { session } : {}), ...(opts.speed !== undefined ? { speed: opts.speed } : {}), ...(opts.maxIdle !== undefined ? { maxIdle: opts.maxIdle } : {}) }, process.stdout, process.stderr, new StdoutOutput(process.stderr));
    });

  program
    .command('export')
    .description('Export from a log: a terminal session as an asciicast for asciinema, or every request, upgrade and WebSocket message as a HAR 1.2 file for HAR viewers.')
    .argument('[file...]', 'a log written by kubewire (all parts of a rotated log, in order); with --store, the session')
    .addOption(new Option('--format <format>', 'what to write').choices(['asciicast', 'har']).makeOptionMandatory())
    .option('--store <store>', 'export a session of an audit store (a directory, or postgres://…): kubewire export --store S SESSION --format …')
    .option('--session <id>', 'the session to export (asciicast: needed when the log holds several terminal sessions; har: only this session)')
    .option('--include-input', 'asciicast: also write what was typed, as "i" events (redacted stdin stays out)')
    .addOption(new Option('--asciicast-version <n>', 'asciicast format version; 3 adds the exit status').choices(['2', '3']).default('2'))
    .option('-o, --output <file>', 'write here instead of stdout')
    .addHelpText('after', '\nExamples:\n  kubewire export audit.jsonl --format asciicast -o session.cast && asciinema play session.cast\n  kubewire export audit.jsonl --format har -o kubectl.har\n  kubewire export --store /var/lib/kubewire/audit 3f2a --format asciicast -o session.cast')
    .action(async (args: string[], opts) => {
      const { runExport } = await import('./export-command.js');
      const { files, session } = storeArgs(args, opts);
      process.exitCode = await runExport({
        files, ...(opts.store ? { store: opts.store } : {}), format: opts.format, ...(session ? { session } : {}), includeInput: opts.includeInput === true,
        asciicastVersion: Number(opts.asciicastVersion) as 2 | 3, ...(opts.output ? { output: opts.output } : {}),
      }, process.stdout, new StdoutOutput(process.stderr));
    });

  program
    .command('doctor')
    .description('Probe the path to the cluster of your kubeconfig, each transport on its own: REST (naming the layer that fails: TCP, credentials, TLS), the RBAC verbs get and create on pods/exec, attach and portforward, the WebSocket and SPDY exec upgrades, both port-forward upgrades (for a pod that does not exist, so no pod is needed), and with --pod a real exec over the transport that works; one row per check, then the findings.')
    .option('--kubeconfig <file>', 'kubeconfig to read (default: $KUBECONFIG, then ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context to use (default: the current context)')
    .option('--pod <ns/name>', 'also run exec checks in this pod (echo, 1 MiB output, ping/pong, resize)')
    .option('--container <name>', 'the container for --pod')
    .option('--idle <seconds>', 'with --pod: hold a session idle this long (plus 5 s) and report when the path cuts it')
    .option('--json', 'print one JSON object {checks, findings}')
    .action(async (opts) => {
      const { runDoctorCommand } = await import('./doctor-command.js');
      process.exitCode = await runDoctorCommand(opts, new StdoutOutput());
    });

  program
    .command('demo')
    .description('Start the demo cluster with kubewire in front of it and the interactive view, and print the kubectl lines to try.')
    .option('--script', 'also run a short tour with the installed kubectl (exec, a tty session, cp, port-forward, a forced SPDY fallback)')
    .option('--kubectl <path>', 'kubectl to use for --script (default: kubectl on PATH)')
    .option('--no-tui', 'print one line per kubectl command instead of the interactive view')
    .option('--log <file>', 'JSONL log to write (default: a new file under ~/.local/state/kubewire/logs)')
    .addOption(new Option('--payload <mode>', 'payload recorded per message').choices(['full', 'head', 'none']).default('head'))
    .option('--gateway <profile...>', 'start the demo cluster with these gateway profiles (see kubewire cluster --help)', [])
    .action(async (opts) => {
      const { runDemo } = await import('./demo-command.js');
      await exitWhenFlushed(await runDemo(opts, new StdoutOutput(), new StdoutOutput(process.stderr)));
    });

  program
    .command('cluster')
    .description('Run the demo cluster: an HTTPS API server on loopback that real kubectl accepts, with demo pods (web, worker, done, pending) whose commands run as local processes in per-pod sandbox directories.')
    .option('--listen <host:port>', 'address to listen on (port 0 picks a free port)', '127.0.0.1:0')
    .option('--write-kubeconfig <file>', 'where to write the kubeconfig (default: under ~/.local/state/kubewire)')
    .option('--gateway <profile...>', 'reproduce a gateway failure (repeatable; see below)', [])
    .option('--user <name=role>', 'add a user with its own token and kubeconfig context NAME (repeatable; roles below)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--user-groups <name=group,...>', 'put a --user user in these groups: its token authenticates with them (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--group <group=role>', 'bind a role to a group, as a ClusterRoleBinding to the Group: its members have it too (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--server-version <1.N>', 'what /version says (1.30 … 1.36) and how upgrades are authorized: from 1.35 WebSocket needs get and create (default 1.33)')
    .addHelpText('after', `\nGateway profiles:\n${gatewayHelp()}\n\nRoles:\n${roleHelp()}\n\nA user may do what its role or any of its groups' roles allow; Impersonate-Group sets the groups.\nExample: kubewire cluster --user carol=none --user-groups carol=ops,dev --group ops=admin`)
    .action(async (opts) => {
      const { runCluster } = await import('./cluster-command.js');
      await exitWhenFlushed(await runCluster(opts, new StdoutOutput(), new StdoutOutput(process.stderr)));
    });

  return program;
}

/** The audit settings of `proxy`/`run`, checked against `--payload` as the user gave it. */
async function auditFrom(opts: AuditFlags & { payload?: string }, cmd: Command): Promise<AuditSettings | null> {
  const { auditSettings } = await import('./audit-setup.js');
  return auditSettings(opts, cmd.getOptionValueSource('payload') === 'cli');
}

/**
 * Serving commands end once their work is flushed: a dial still waiting on an unresponsive
 * upstream, or an idle keep-alive socket, must not keep kubewire alive after a stop.
 */
async function exitWhenFlushed(code: number): Promise<never> {
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  await new Promise<void>((resolve) => process.stderr.write('', () => resolve()));
  process.exit(code);
}

/** `replay`/`export`: the positional words are log files, or with `--store` the one session. */
function storeArgs(args: string[], opts: { store?: string; session?: string }): { files: string[]; session: string | undefined } {
  if (opts.store === undefined) return { files: args, session: opts.session };
  if (args.length > 1 || (args.length === 1 && opts.session !== undefined && opts.session !== args[0])) {
    throw new CliError('KW_ERR_USAGE', 'with --store, name one session (kubewire replay --store S SESSION); log files are read without --store', ExitCode.Usage);
  }
  return { files: [], session: args[0] ?? opts.session };
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version exit 0; usage errors were already printed by commander.
      process.exitCode = e.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
      return;
    }
    if (e instanceof CliError) {
      process.stderr.write(`kubewire: ${e.message} [${e.code}]\n`);
      process.exitCode = e.exitCode;
      return;
    }
    throw e;
  }
}
