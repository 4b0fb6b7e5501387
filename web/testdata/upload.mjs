// upload.mjs: Ada sends a photo: the upload reports progress in steps,
// the bubble shows the blurhash and then the thumbnail on both sides (the
// worker's media.ready), a click opens the preview; a file downloads with
// its name. It ends with the README's screenshot: a conversation with a
// photo, read marks and Bob typing.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { run, signUp, startDirect, openConversation, send, waitTexts, shot, check, log } from './lib.mjs';

await run(async (launch) => {
  const ada = await launch('ada');
  const bob = await launch('bob');
  await signUp(ada, 'Ada');
  const bobID = await signUp(bob, 'Bob');
  const conv = await startDirect(ada, bobID, 'Bob');
  await send(ada, 'Hi Bob! Look at this evening');
  await openConversation(bob, conv);
  await waitTexts(bob, ['Hi Bob! Look at this evening']);
  await send(bob, 'Oh, show me!');
  await waitTexts(ada, ['Hi Bob! Look at this evening', 'Oh, show me!']);

  // 128 KiB chunks: the photo goes up in several PATCHes, each a step.
  await ada.page.evaluate(() => {
    localStorage.setItem('courier-upload-chunk', String(128 << 10));
    window.__progress = [];
    addEventListener('courier-upload-progress', (e) => window.__progress.push(e.detail));
  });
  await ada.page.setInputFiles('#files', process.env.COURIER_PHOTO);
  await ada.page.waitForSelector('#progress-list progress', { state: 'attached' });
  await ada.page.waitForSelector('#messages li.msg.own .media[data-thumb="loaded"]');
  const progress = await ada.page.evaluate(() => window.__progress);
  const size = progress.at(-1)?.size;
  const steps = new Set(progress.map((p) => p.sent));
  check(progress.at(-1)?.sent === size, `progress ended at ${progress.at(-1)?.sent} of ${size}`);
  check([...steps].some((s) => s > 0 && s < size) && steps.size >= 4, `progress steps ${[...steps]}`);
  check(progress.every((p, i) => i === 0 || p.sent >= progress[i - 1].sent || p.sent === 0), 'progress went backwards');
  log('progress steps', [...steps].join(' '), 'of', size);

  // Bob sees the blurhash placeholder or the thumbnail, then the thumbnail.
  await bob.page.waitForSelector('#messages li.msg .media[data-kind="photo"]');
  await bob.page.waitForSelector('#messages li.msg .media[data-thumb="loaded"]');
  const thumb = await bob.page.$eval('#messages .media img.thumb', (img) => ({ w: img.naturalWidth, h: img.naturalHeight, src: img.src }));
  check(thumb.w === 320 && thumb.h === 240 && thumb.src.startsWith('blob:'), `Bob's thumbnail ${JSON.stringify(thumb)}`);

  // A click opens the preview.
  await bob.page.click('#messages .media[data-kind="photo"]');
  await bob.page.waitForFunction(() => document.querySelector('#viewer-body img')?.naturalWidth > 320);
  await shot(bob, 'upload-preview.png');
  await bob.page.click('#viewer-close');

  // A video: its poster as the thumbnail, a click plays the MP4.
  await ada.page.setInputFiles('#files', process.env.COURIER_VIDEO);
  await bob.page.waitForSelector('#messages li.msg .media[data-kind="video"][data-thumb="loaded"]');
  await bob.page.click('#messages .media[data-kind="video"]');
  await bob.page.waitForSelector('#viewer-body video[src^="blob:"]');
  const playable = await bob.page.$eval('#viewer-body video', (v) => v.canPlayType('video/mp4; codecs="avc1.42E01E"'));
  if (playable) {
    await bob.page.waitForFunction(() => document.querySelector('#viewer-body video').readyState >= 1);
  } else {
    log('this chromium plays no H.264: the MP4 was fetched, not played');
  }
  await bob.page.click('#viewer-close');

  // A file downloads with its name.
  const notes = join(mkdtempSync(join(tmpdir(), 'courier-notes-')), 'notes.txt');
  writeFileSync(notes, 'bring the tripod\n');
  await bob.page.setInputFiles('#files', notes);
  await ada.page.waitForSelector('#messages li.msg .media[data-state="ready"] a.file');
  const [download] = await Promise.all([
    ada.page.waitForEvent('download'),
    ada.page.click('#messages li.msg .media a.file'),
  ]);
  check(download.suggestedFilename() === notes.split('/').pop(), `download named ${download.suggestedFilename()}`);

  // The README's picture: the photo, read marks, Bob typing.
  await send(ada, 'Taken from the balcony, 10 minutes ago');
  await ada.page.waitForSelector('#messages li.msg.own .meta .mark.read >> nth=-1');
  await ada.page.waitForFunction(() => [...document.querySelectorAll('#messages li.msg.own')].every((li) => li.dataset.state === 'read'));
  await bob.page.focus('#text');
  await bob.page.keyboard.type('Wow, the colours', { delay: 100 });
  await ada.page.waitForFunction(() => document.querySelector('#typing').textContent.includes('typing'));
  await shot(ada, 'readme.png');
  log('upload ok');
});
