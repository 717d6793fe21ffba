/**
 * The exec credential plugin section of the chosen user (users[].user.exec), checked as kubectl
 * checks it before it connects: a command, an apiVersion it speaks (client.authentication.k8s.io
 * v1 or v1beta1), env entries with names, a known interactiveMode. Running the plugin is
 * src/proxy/exec-credential.ts.
 */
import { CliError } from '../io/errors.js';
import { text, type User } from './kubeconfig-files.js';

export const EXEC_API_VERSIONS = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'] as const;
export type ExecApiVersion = (typeof EXEC_API_VERSIONS)[number];
export type InteractiveMode = 'Never' | 'IfAvailable' | 'Always';

export interface ExecConfig {
  apiVersion: ExecApiVersion;
  /** Absolute when the kubeconfig gave a path with a separator; otherwise looked up on PATH. */
  command: string;
  args: string[];
  /** Added to kubewire's own environment. */
  env: Array<{ name: string; value: string }>;
  provideClusterInfo: boolean;
  interactiveMode: InteractiveMode;
  installHint: string | null;
}

export function execConfig(user: User, file: string): ExecConfig | null {
  const exec = user.exec;
  if (!exec) return null;
  const owner = `user "${user.name}" in ${file}`;
  const invalid = (what: string): CliError => new CliError('KW_ERR_KUBECONFIG_INVALID', `${owner}: ${what}`);
  const command = text(exec['command']);
  if (!command) throw invalid('the exec credential plugin has no command; set users[].user.exec.command');
  const apiVersion = text(exec['apiVersion']);
  if (!apiVersion) throw invalid(`the exec credential plugin "${command}" has no apiVersion; set users[].user.exec.apiVersion to ${EXEC_API_VERSIONS.join(' or ')}`);
  if (!(EXEC_API_VERSIONS as readonly string[]).includes(apiVersion)) {
    throw invalid(`the exec credential plugin "${command}" asks for apiVersion ${apiVersion}, which kubectl and kubewire no longer speak; use ${EXEC_API_VERSIONS.join(' or ')}`);
  }
  const args = Array.isArray(exec['args']) ? exec['args'].map((a) => text(a) ?? '') : [];
  const env: ExecConfig['env'] = [];
  if (Array.isArray(exec['env'])) {
    for (const [i, item] of exec['env'].entries()) {
      const name = item && typeof item === 'object' ? text((item as Record<string, unknown>)['name']) : undefined;
      if (!name) throw invalid(`exec env[${i}] has no name`);
      env.push({ name, value: text((item as Record<string, unknown>)['value']) ?? '' });
    }
  }
  const mode = exec['interactiveMode'];
  if (mode !== undefined && mode !== null && mode !== '' && mode !== 'Never' && mode !== 'IfAvailable' && mode !== 'Always') {
    throw invalid(`the exec credential plugin "${command}" has interactiveMode ${JSON.stringify(mode)}; use Never, IfAvailable or Always`);
  }
  // kubectl requires interactiveMode for v1; it has always been optional here, and without a
  // terminal to lend (exec-credential.ts) IfAvailable and Never come to the same.
  const interactiveMode: InteractiveMode = mode === 'Never' || mode === 'Always' ? mode : 'IfAvailable';
  return {
    apiVersion: apiVersion as ExecApiVersion,
    command,
    args,
    env,
    provideClusterInfo: exec['provideClusterInfo'] === true,
    interactiveMode,
    installHint: text(exec['installHint'])?.trim() || null,
  };
}
