/** The `/` prompt while a filter is typed; the list below already shows its matches. */
import { Text } from 'ink';

export function FilterLine({ draft }: { draft: string }) {
  return (
    <Text wrap="truncate">
      <Text color="yellow">/{draft}</Text>
      <Text inverse> </Text>
      <Text dimColor>  enter apply · esc cancel · ctrl-u clear · pod: ns: c: verb: state: cmd: text:</Text>
    </Text>
  );
}
