// restart.mjs: the server restarts under two chatting browsers. Its
// sockets close with 1001 (going away); the pages reconnect by themselves
// (at once, then with jittered backoff while the node is down), a message
// written meanwhile waits in the outbox and goes out, and both sides
// continue in order.
import { createInterface } from 'node:readline';
import { run, signUp, startDirect, openConversation, send, waitTexts, log, tokenOf, sendHTTP } from './lib.mjs';

const stdin = createInterface({ input: process.stdin });
const lines = stdin[Symbol.asyncIterator]();

await run(async (launch) => {
  const ada = await launch('ada');
  const bob = await launch('bob');
  await signUp(ada, 'Ada');
  const bobID = await signUp(bob, 'Bob');
  const conv = await startDirect(ada, bobID, 'Bob');
  await send(ada, 'before the restart');
  await openConversation(bob, conv);
  await waitTexts(bob, ['before the restart']);

  // Ask the Go test to stop the node (SIGTERM) and start it again; it
  // answers on stdin once the node is ready.
  console.log('@@restart');
  await ada.page.waitForSelector('#conn:not([data-state="online"])');
  await send(ada, 'during the restart');
  const answer = await lines.next();
  log('test says', answer.value);

  await ada.page.waitForSelector('#conn[data-state="online"]');
  await bob.page.waitForSelector('#conn[data-state="online"]');
  await waitTexts(bob, ['before the restart', 'during the restart']);
  await send(bob, 'after the restart');
  await waitTexts(ada, ['before the restart', 'during the restart', 'after the restart']);
  await ada.page.waitForSelector('#messages li.msg.own[data-seq="2"][data-state="read"]');
  // A reaction, an edit and a delete from another client (the HTTP API)
  // show through the messages they change, on both sides.
  const [adaToken, bobToken] = [await tokenOf(ada), await tokenOf(bob)];
  await sendHTTP(bobToken, conv, { text: '👍', kind: 'reaction', target_seq: 1 });
  await ada.page.waitForSelector('#messages li.msg[data-seq="1"] .reaction >> text=👍 1');
  await sendHTTP(adaToken, conv, { text: 'during the restart, edited', kind: 'edit', target_seq: 2 });
  await waitTexts(bob, ['before the restart', 'during the restart, edited', 'after the restart']);
  await bob.page.waitForSelector('#messages li.msg[data-seq="2"] .edited');
  await sendHTTP(adaToken, conv, { kind: 'delete', target_seq: 1 });
  await bob.page.waitForSelector('#messages li.msg[data-seq="1"] .deleted');
  await waitTexts(bob, ['during the restart, edited', 'after the restart']);
  await bob.page.reload();
  await waitTexts(bob, ['during the restart, edited', 'after the restart']);
  await bob.page.waitForSelector('#messages li.msg[data-seq="1"] .deleted');
  const chips = await ada.page.$$('#messages .reaction');
  if (chips.length !== 0) throw new Error(`${chips.length} reactions left on a deleted message`);
  log('restart ok');
  stdin.close();
});
