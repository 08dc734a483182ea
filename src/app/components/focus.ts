// Keyboard focus that never falls to <body>. A control that disappears while it has focus
// ("Start training" becomes "Pause", a "Next: …" button's panel is hidden, "Stop generating"
// goes when the text is done) would leave a keyboard or screen-reader user at the top of the
// document. After every store change this moves focus to the heading of the panel now shown
// (when the lost control was in another panel) or of the card the control was in.
import { useEffect } from 'react';
import { useStore } from '../store';

/** Connected and rendered (no `display: none` on it or an ancestor). */
function shown(el: Element): boolean {
  return el.isConnected && el.getClientRects().length > 0;
}

/** Shown and not disabled (itself or through a disabled fieldset). */
function usable(el: Element): boolean {
  return shown(el) && !el.matches(':disabled');
}

function focusHeading(h: HTMLElement | null | undefined, preventScroll = false): boolean {
  if (!h) return false;
  // Headings are not in the tab order; -1 lets a script focus them without adding them to it.
  if (!h.hasAttribute('tabindex')) h.tabIndex = -1;
  h.focus({ preventScroll });
  return document.activeElement === h;
}

/** The heading of the panel shown now: its first card's title. */
function focusPanelHeading(panelId: string, preventScroll = false): boolean {
  return focusHeading(document.getElementById(`panel-${panelId}`)?.querySelector<HTMLElement>('h2'), preventScroll);
}

export function useFocusRescue(): void {
  useEffect(() => {
    // The last element that had focus, and its ancestors at that moment: once it is gone from
    // the DOM its old ancestors say where it was.
    let last: Element | null = null;
    let chain: Element[] = [];
    const onFocusIn = (e: FocusEvent) => {
      last = e.target as Element;
      chain = [];
      for (let a = last.parentElement; a; a = a.parentElement) chain.push(a);
    };
    document.addEventListener('focusin', onFocusIn);

    let queued = false;
    const check = () => {
      queued = false;
      const active = document.activeElement;
      const lost = active && active !== document.body ? active : last;
      if (active && active !== document.body && usable(active)) return;
      if (!lost || usable(lost)) return; // a click on the page's background: not a loss
      const panelId = useStore.getState().panel;
      const panel = document.getElementById(`panel-${panelId}`);
      const wasInPanel = chain.find((a) => a.getAttribute('role') === 'tabpanel');
      // Another panel is shown: its heading, scrolled to, as a new page would be.
      if (wasInPanel && wasInPanel !== panel) {
        if (focusPanelHeading(panelId)) return;
      }
      // The same panel: the heading of the card the control was in (or failing that, of the
      // panel), without scrolling the page away from where the user is reading.
      for (const a of chain) {
        if (!shown(a)) continue;
        const card = a.closest('section.card, [role="tabpanel"]');
        if (card && focusHeading(card.querySelector<HTMLElement>('h2'), true)) return;
        break;
      }
      focusPanelHeading(panelId, true);
    };
    // After React has committed the change (a click's update renders before the timeout runs).
    const unsubscribe = useStore.subscribe(() => {
      if (queued) return;
      queued = true;
      setTimeout(check, 0);
    });
    return () => {
      document.removeEventListener('focusin', onFocusIn);
      unsubscribe();
    };
  }, []);
}
