/**
 * A modal dialog on the native <dialog> element: showModal() makes the rest
 * of the page inert (focus stays inside), Esc closes it, and focus returns to
 * whatever opened it. Its content exists only while it is open.
 */
import { useEffect, useId, useRef, type ReactNode } from 'react';

const FOCUSABLE = 'a[href], button, input, select, textarea, [tabindex]:not([tabindex="-1"])';

export function Dialog(props: { title: string; onClose: () => void; children: ReactNode; wide?: boolean; drawer?: boolean; footer?: ReactNode }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const onClose = useRef(props.onClose);
  onClose.current = props.onClose;

  useEffect(() => {
    const dlg = ref.current!;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    dlg.showModal();
    (dlg.querySelector<HTMLElement>('[data-autofocus]') ?? dlg.querySelector<HTMLElement>('input, select, textarea, button:not(.dialog-x)'))?.focus();
    const cancel = (e: Event) => {
      e.preventDefault();
      onClose.current();
    };
    // showModal() makes the page inert, but Tab past the last control still leaves for the browser's own UI; wrap it.
    const trap = (e: KeyboardEvent) => {
      if (e.key !== 'Tab') return;
      const items = [...dlg.querySelectorAll<HTMLElement>(FOCUSABLE)].filter((el) => !el.hasAttribute('disabled') && el.getClientRects().length > 0);
      if (items.length === 0) return;
      const first = items[0]!;
      const last = items[items.length - 1]!;
      if (e.shiftKey && (document.activeElement === first || !dlg.contains(document.activeElement))) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && (document.activeElement === last || !dlg.contains(document.activeElement))) {
        e.preventDefault();
        first.focus();
      }
    };
    dlg.addEventListener('cancel', cancel);
    dlg.addEventListener('keydown', trap);
    return () => {
      dlg.removeEventListener('cancel', cancel);
      dlg.removeEventListener('keydown', trap);
      if (dlg.open) dlg.close();
      opener?.focus();
    };
  }, []);

  return (
    <dialog ref={ref} className={`dialog${props.wide ? ' wide' : ''}${props.drawer ? ' drawer' : ''}`} aria-labelledby={titleId}>
      <header className="dialog-head">
        <h2 id={titleId}>{props.title}</h2>
        <button type="button" className="dialog-x" aria-label="Close" onClick={() => props.onClose()}>
          ×
        </button>
      </header>
      <div className="dialog-body">{props.children}</div>
      {props.footer ? <footer className="dialog-foot">{props.footer}</footer> : null}
    </dialog>
  );
}
