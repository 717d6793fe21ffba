import { describe, expect, it } from 'vitest';
import { isTrue, k8sRequestInfo } from '../../src/codec/k8s-request.js';

describe('k8sRequestInfo', () => {
  it('reads query booleans as the API server does (Go strconv.ParseBool): python-kubernetes sends True', () => {
    const k = k8sRequestInfo('/api/v1/namespaces/default/pods/web/exec?command=ls&stdin=True&stdout=True&stderr=t&tty=TRUE');
    expect(k).toMatchObject({ operation: 'exec', pod: 'web', command: ['ls'], stdin: true, stdout: true, stderr: true, tty: true });
    for (const v of ['1', 't', 'T', 'TRUE', 'true', 'True']) expect(isTrue(v), v).toBe(true);
    for (const v of ['0', 'f', 'False', 'yes', 'on', '', 'tRUE']) expect(isTrue(v), v).toBe(false);
    expect(isTrue(null)).toBe(false);
  });
});
