/**
 * The vocabulary service's publishing rules (src/vocabulary/service.ts) against a real database and
 * S3-API store, with a scripted Transcribe vocabulary API at the port: failures are recorded as
 * FAILED (never thrown at the admin), an unusable setup never calls Transcribe, and a save made while
 * Transcribe is still processing the previous one is published once that one is READY.
 */
import { describe, expect, it } from 'vitest';
import { UserRepository } from '../../src/auth/users.js';
import { VocabularyRepository } from '../../src/vocabulary/repo.js';
import { VocabularyService, type VocabularyPublisher, type VocabularyStatus } from '../../src/vocabulary/service.js';
import { getObject, silentLogger, useRecordingsEnv } from '../support/recordings.js';

const env = useRecordingsEnv();

/** Transcribe's vocabulary API as a script: states per name, puts recorded, a failure on demand. */
class ScriptedPublisher implements VocabularyPublisher {
  states = new Map<string, VocabularyStatus>();
  puts: Array<{ name: string; fileUri: string }> = [];
  fail?: Error;
  async put(name: string, fileUri: string): Promise<VocabularyStatus> {
    if (this.fail) throw this.fail;
    this.puts.push({ name, fileUri });
    this.states.set(name, { state: 'PENDING' });
    return { state: 'PENDING' };
  }
  async state(name: string): Promise<VocabularyStatus | undefined> {
    if (this.fail) throw this.fail;
    return this.states.get(name);
  }
  async close(): Promise<void> {}
}

async function setup(o: { unusable?: string } = {}) {
  const repo = new VocabularyRepository(env.db);
  const publisher = new ScriptedPublisher();
  const { store } = env.s3.store();
  const service = new VocabularyService({ repo, logger: silentLogger(), pollMs: 50, cacheMs: 0, transcribe: { publisher, store, namePrefix: `t${Date.now()}-`, ...o } });
  const users = new UserRepository(env.db);
  const admin = await users.create({ username: `vocab-admin-${Math.random().toString(36).slice(2, 8)}`, role: 'admin', password: 'a long enough password for the test 1' });
  return { repo, publisher, service, store, admin };
}

describe('vocabulary publishing (engine aws)', () => {
  it('records a Transcribe failure as FAILED with the error\'s name, and streams then start with the terms but no name', async () => {
    const { repo, publisher, service, admin } = await setup();
    try {
      await repo.save('ONCOLOGY', [{ phrase: 'trastuzumab' }], 0, admin.id);
      publisher.fail = Object.assign(new Error('not allowed'), { name: 'AccessDeniedException' });
      const v = await service.publish('ONCOLOGY');
      expect(v.engine).toMatchObject({ state: 'FAILED', failure: 'AccessDeniedException', version: 1 });
      expect(await service.forStream('ONCOLOGY')).toEqual({ terms: [{ phrase: 'trastuzumab' }] });
    } finally {
      await service.close();
    }
  });

  it('with Transcribe unable to read the bucket (another region, the embedded store), marks it FAILED with the reason and never calls Transcribe', async () => {
    const { repo, publisher, service, admin } = await setup({ unusable: 'bucket in another region' });
    try {
      await repo.save('UROLOGY', [{ phrase: 'tamsulosin' }], 0, admin.id);
      const v = await service.publish('UROLOGY');
      expect(v.engine).toMatchObject({ state: 'FAILED', failure: 'bucket in another region' });
      expect(publisher.puts).toEqual([]);
    } finally {
      await service.close();
    }
  });

  it('a save while Transcribe is still processing the previous version waits, and is published (its own file) once that one is READY; streams get the name only when READY', async () => {
    const { repo, publisher, service, store, admin } = await setup();
    const name = service.nameOf('RADIOLOGY')!;
    try {
      await repo.save('RADIOLOGY', [{ phrase: 'gadolinium' }], 0, admin.id);
      await service.publish('RADIOLOGY');
      expect(publisher.puts.map((p) => p.fileUri)).toEqual([`s3://${store.bucket}/recordings/vocabularies/${name}/v1.txt`]);
      expect((await getObject(store, `recordings/vocabularies/${name}/v1.txt`)).toString()).toBe('Phrase\tSoundsLike\tIPA\tDisplayAs\ngadolinium\t\t\t\n');

      // Saved again while v1 is PENDING: nothing is sent yet.
      await repo.save('RADIOLOGY', [{ phrase: 'gadolinium' }, { phrase: 'fluoroscopy' }], 1, admin.id);
      await service.publish('RADIOLOGY');
      expect(publisher.puts).toHaveLength(1);
      expect((await service.forStream('RADIOLOGY'))?.name).toBeUndefined();

      // v1 done: the poll records READY and sends v2.
      publisher.states.set(name, { state: 'READY' });
      await expect.poll(() => publisher.puts.length, { timeout: 5000 }).toBe(2);
      expect(publisher.puts[1]!.fileUri).toBe(`s3://${store.bucket}/recordings/vocabularies/${name}/v2.txt`);
      await expect.poll(async () => (await repo.get('RADIOLOGY')).engine?.version).toBe(2);
      expect((await service.forStream('RADIOLOGY'))?.name).toBeUndefined(); // v2 PENDING

      publisher.states.set(name, { state: 'READY' });
      await expect.poll(async () => (await repo.get('RADIOLOGY')).engine?.state, { timeout: 5000 }).toBe('READY');
      expect(await service.forStream('RADIOLOGY')).toEqual({ name, terms: [{ phrase: 'gadolinium' }, { phrase: 'fluoroscopy' }] });
    } finally {
      await service.close();
    }
  });
});
