// Key-value stores for E2EDevice: IndexedDB in the page (one database per
// device, apart from the page's message store, so keys never mix with
// data the page syncs), a Map in tests.
export class MemoryStore {
  constructor() {
    this.m = new Map();
  }
  async get(k) {
    return this.m.get(k);
  }
  async put(k, v) {
    this.m.set(k, v);
  }
  async delete(k) {
    this.m.delete(k);
  }
}

export class IndexedDBStore {
  static async open(name) {
    const db = await new Promise((resolve, reject) => {
      const r = indexedDB.open(name, 1);
      r.onupgradeneeded = () => r.result.createObjectStore('kv');
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    return new IndexedDBStore(db);
  }
  constructor(db) {
    this.db = db;
  }
  op(mode, f) {
    return new Promise((resolve, reject) => {
      const tx = this.db.transaction('kv', mode);
      const r = f(tx.objectStore('kv'));
      tx.oncomplete = () => resolve(r.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  }
  get(k) {
    return this.op('readonly', (s) => s.get(k));
  }
  put(k, v) {
    return this.op('readwrite', (s) => s.put(v, k));
  }
  delete(k) {
    return this.op('readwrite', (s) => s.delete(k));
  }
}
