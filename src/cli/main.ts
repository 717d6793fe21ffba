/**
 * The kubewire command line: parses, wires the parts together, maps failures to exit codes.
 */
import { Command, CommanderError, Option } from 'commander';
import { gatewayHelp, runCluster } from './cluster-command.js';
import { runDecode } from './decode-command.js';
import { CliError, ExitCode } from './errors.js';
import { StdoutOutput } from './output.js';
import { VERSION } from '../version.js';

export function buildProgram(): Command {
  const program = new Command('kubewire')
    .description('A streaming-aware diagnostic proxy for kubectl exec, attach, cp and port-forward.\nDecodes WebSocket (v1-v5 channels), SPDY/3.1 and the port-forward tunnel byte-exactly.')
    .version(VERSION, '--version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  program
    .command('decode')
    .description('Decode one captured connection: two files, one per TCP direction, each starting with its HTTP head\n(for example Wireshark\'s "Follow TCP stream" saved as raw, or tcpflow output).')
    .requiredOption('--c2s <file>', 'bytes the client (kubectl) sent')
    .requiredOption('--s2c <file>', 'bytes the server sent')
    .option('--summary', 'print the connection summary (JSON) instead of the events')
    .option('--text', 'print one readable line per event instead of JSONL')
    .addOption(new Option('--payload <mode>', 'payload bytes recorded in events').choices(['full', 'head', 'none']).default('full'))
    .addHelpText('after', '\nExamples:\n  kubewire decode --c2s exec.c2s --s2c exec.s2c\n  kubewire decode --c2s exec.c2s --s2c exec.s2c --summary\n  kubewire decode --c2s pf.c2s --s2c pf.s2c --text')
    .action(async (opts) => {
      process.exitCode = await runDecode(opts, new StdoutOutput());
    });

  program
    .command('cluster')
    .description('Run the demo cluster: an HTTPS API server on loopback that real kubectl accepts, with demo pods (web, worker, done, pending) whose commands run as local processes in per-pod sandbox directories.')
    .option('--listen <host:port>', 'address to listen on (port 0 picks a free port)', '127.0.0.1:0')
    .option('--write-kubeconfig <file>', 'where to write the kubeconfig (default: under ~/.local/state/kubewire)')
    .option('--gateway <profile...>', 'reproduce a gateway failure (repeatable; see below)', [])
    .addHelpText('after', `\nGateway profiles:\n${gatewayHelp()}`)
    .action(async (opts) => {
      process.exitCode = await runCluster(opts, new StdoutOutput(), new StdoutOutput(process.stderr));
    });

  return program;
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
