// chat.mjs: two browsers chat. Messages arrive in order in both, typing
// shows on the other side, the sender's marks go ✓ → ✓✓ → read when the
// other side opens the conversation, presence shows the contact online,
// and a reload keeps everything.
import { run, signUp, startDirect, openConversation, send, waitTexts, shot, check, log } from './lib.mjs';

await run(async (launch) => {
  const ada = await launch('ada');
  const bob = await launch('bob');
  await signUp(ada, 'Ada');
  const bobID = await signUp(bob, 'Bob');
  const conv = await startDirect(ada, bobID, 'Bob');

  await send(ada, 'hello Bob');
  await send(ada, 'are you there?');
  await waitTexts(ada, ['hello Bob', 'are you there?']);
  await ada.page.waitForSelector('#messages li.msg.own[data-seq="2"]:is([data-state="sent"],[data-state="delivered"])');

  // Bob's list shows the conversation with its preview and 2 unread,
  // and Ada's marks say delivered (Bob's page has them) but not read.
  await bob.page.waitForSelector(`#conversations li[data-conv-id="${conv}"][data-unread="2"]`);
  const preview = await bob.page.textContent(`#conversations li[data-conv-id="${conv}"] .conv-preview`);
  check(preview.includes('are you there?'), `Bob's preview is ${JSON.stringify(preview)}`);
  await ada.page.waitForSelector('#messages li.msg.own[data-seq="2"][data-state="delivered"]');
  const marks = await ada.page.$$eval('#messages li.msg.own', (l) => l.map((li) => li.dataset.state));
  check(!marks.includes('read'), `read before Bob opened the conversation: ${marks}`);
  await shot(ada, 'chat-delivered.png');

  // Bob opens it: Ada's marks turn to read.
  await openConversation(bob, conv);
  await waitTexts(bob, ['hello Bob', 'are you there?']);
  await ada.page.waitForSelector('#messages li.msg.own[data-seq="2"][data-state="read"]');
  await ada.page.waitForSelector('#messages li.msg.own[data-seq="1"][data-state="read"]');

  // Bob types: Ada sees it, and Bob is online for her.
  await bob.page.focus('#text');
  await bob.page.keyboard.type('yes, here', { delay: 120 });
  await ada.page.waitForFunction(() => document.querySelector('#typing').textContent.includes('typing'));
  await ada.page.waitForSelector('#conv-presence[data-online="true"]');
  await shot(ada, 'chat-typing.png');
  await bob.page.click('#send');
  await waitTexts(ada, ['hello Bob', 'are you there?', 'yes, here']);
  await ada.page.waitForFunction(() => document.querySelector('#typing').textContent === '');
  await send(ada, 'great');
  await waitTexts(bob, ['hello Bob', 'are you there?', 'yes, here', 'great']);
  const seqs = await bob.page.$$eval('#messages li.msg', (l) => l.map((li) => li.dataset.seq));
  check(JSON.stringify(seqs) === '["1","2","3","4"]', `Bob's seqs ${seqs}`);

  // A permanent failure (a body over 64 KiB: too_large) holds the
  // conversation's queue: the next message waits until Discard.
  await ada.page.evaluate(() => { document.querySelector('#text').value = 'x'.repeat(70000); });
  await ada.page.click('#send');
  await ada.page.waitForSelector('#messages li.msg.own[data-state="failed"] .error >> text=Retry');
  await send(ada, 'after the failure');
  await ada.page.waitForSelector('#messages li.msg.own[data-state="pending"] >> text=after the failure');
  await new Promise((r) => setTimeout(r, 500));
  check((await ada.page.$$('#messages li.msg.own[data-state="pending"]')).length === 1, 'the queue did not hold');
  await shot(ada, 'chat-failed.png');
  await ada.page.click('#messages li.msg.own[data-state="failed"] button >> text=Discard');
  await waitTexts(bob, ['hello Bob', 'are you there?', 'yes, here', 'great', 'after the failure']);
  await waitTexts(ada, ['hello Bob', 'are you there?', 'yes, here', 'great', 'after the failure']);

  // A reload keeps everything: the page opens from IndexedDB.
  const t0 = Date.now();
  await bob.page.reload();
  await bob.page.waitForSelector(`#conv-view[data-conv-id="${conv}"]`);
  await waitTexts(bob, ['hello Bob', 'are you there?', 'yes, here', 'great', 'after the failure']);
  log(`reload to the conversation shown from IndexedDB: ${Date.now() - t0} ms`);
  await ada.page.waitForSelector('#messages li.msg.own[data-seq="5"][data-state="read"]');
  await shot(bob, 'chat-reloaded.png');

  // A group: Bob sees it by its name, with Ada's message under her name.
  await ada.page.click('#new-chat summary');
  await ada.page.fill('#group-name', 'Trip');
  await ada.page.fill('#group-members', bobID);
  await ada.page.click('#group-form button');
  await ada.page.waitForSelector('#conv-title >> text=Trip');
  const group = await ada.page.evaluate(() => location.hash.slice(1));
  await send(ada, 'who brings the map?');
  await bob.page.waitForSelector(`#conversations li[data-conv-id="${group}"] .conv-name >> text=Trip`);
  await openConversation(bob, group);
  await waitTexts(bob, ['who brings the map?']);
  const sender = await bob.page.textContent('#messages li.msg .sender');
  check(sender === 'user ' + (await ada.page.textContent('#me-id')).trim().slice(0, 6), `group sender shown as ${sender}`);
  await ada.page.waitForSelector('#messages li.msg.own[data-seq="1"][data-state="read"]');

  // Bob leaves: Ada's direct conversation shows when he was last seen.
  await openConversation(ada, conv);
  await ada.page.waitForSelector('#conv-presence[data-online="true"]');
  await bob.context.close();
  await ada.page.waitForSelector('#conv-presence[data-online="false"] >> text=last seen');
  log('chat ok');
});
