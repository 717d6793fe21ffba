import { describe, expect, it } from 'vitest';
import { decodeReview, isProtobufBody } from '../../src/demo/protobuf-body.js';

/** What kubectl 1.33 posted for `kubectl auth can-i get pods/exec` (a pod named exec). */
const CAN_I_GET_POD_EXEC = '6b3873000a320a17617574686f72697a6174696f6e2e6b38732e696f2f7631121753656c665375626a65637441636365737352657669657712400a100a0012001a0022002a0032003800420012220a200a0764656661756c7412036765741a0022002a04706f647332003a04657865631a08080012001a0020001a002200';

describe('protobuf review bodies', () => {
  it('reads kubectl\'s SelfSubjectAccessReview', () => {
    expect(isProtobufBody('application/vnd.kubernetes.protobuf')).toBe(true);
    expect(isProtobufBody('application/json')).toBe(false);
    expect(decodeReview(Buffer.from(CAN_I_GET_POD_EXEC, 'hex'))).toEqual({
      apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview',
      spec: { resourceAttributes: { namespace: 'default', verb: 'get', group: '', version: '', resource: 'pods', subresource: '', name: 'exec' } },
    });
  });

  it('reads the type of any review, and refuses what is not a k8s protobuf envelope', () => {
    const kind = Buffer.from('SelfSubjectReview');
    const api = Buffer.from('authentication.k8s.io/v1');
    const typeMeta = Buffer.concat([Buffer.of(0x0a, api.length), api, Buffer.of(0x12, kind.length), kind]);
    const body = Buffer.concat([Buffer.from('k8s\0', 'latin1'), Buffer.of(0x0a, typeMeta.length), typeMeta, Buffer.of(0x12, 0)]);
    expect(decodeReview(body)).toEqual({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' });
    expect(() => decodeReview(Buffer.from('{"kind":"x"}'))).toThrow(/magic/);
    expect(() => decodeReview(Buffer.from('6b3873000a32', 'hex'))).toThrow(/truncated/);
  });
});
