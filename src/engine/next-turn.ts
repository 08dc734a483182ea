// Lets the event loop run once. On the cpu and wasm backends data() resolves at once, so a
// training or decoding loop would be one unbroken chain of microtasks: pause/cancel messages to
// a worker and Ctrl-C in the CLI would only land after the loop ended. setTimeout(0) is clamped
// to 4 ms when nested, too slow per decoded token, so setImmediate (Node) or a MessageChannel.
export function nextTurn(): Promise<void> {
  if (typeof setImmediate === 'function') return new Promise((resolve) => setImmediate(resolve));
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}
