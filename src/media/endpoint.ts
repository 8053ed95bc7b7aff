import type Mrf from 'drachtio-fsmrf';

const DESTROY_WAIT_MS = 2_000;

/**
 * Hangs up a media server channel without ever waiting long: drachtio-fsmrf's destroy() waits for
 * FreeSWITCH to run the hangup, which it sometimes never does (a channel whose far end is on hold
 * runs no queued commands); then the channel is killed outright with uuid_kill.
 */
export async function releaseEndpoint(endpoint: Mrf.Endpoint | undefined): Promise<void> {
  if (!endpoint) return;
  let timer: NodeJS.Timeout | undefined;
  const destroyed = endpoint.destroy().then(
    () => true,
    () => true,
  );
  const waited = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), DESTROY_WAIT_MS);
  });
  const done = await Promise.race([destroyed, waited]);
  clearTimeout(timer);
  if (done) return;
  await endpoint.mediaserver.api(`uuid_kill ${endpoint.uuid}`).catch(() => undefined);
}
