/** Reading a server-sent event stream (the admin live feed) as it arrives, without waiting for its end. */

export interface SseReader {
  /** Resolves with the next match of `re` in what has arrived, reading more as needed; consumes up to its end. */
  until(re: RegExp): Promise<RegExpExecArray>;
}

export function sseReader(res: Response): SseReader {
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let buf = '';
  return {
    async until(re) {
      for (;;) {
        const m = re.exec(buf);
        if (m) {
          buf = buf.slice(m.index + m[0].length);
          return m;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        buf += dec.decode(value, { stream: true });
      }
    },
  };
}
