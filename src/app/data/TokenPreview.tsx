// Formatted training examples, token by token: trained targets highlighted, context muted.
import type { PreviewExample } from '../../worker/api';
import { Empty } from '../components/ui';

function visible(text: string): string {
  // Make whitespace-only tokens visible without changing the layout of real text.
  return text.replace(/\n/g, '↵\n');
}

export function TokenPreview({ examples }: { examples: PreviewExample[] }) {
  if (examples.length === 0) return <Empty title="No examples to show" />;
  return (
    // Scrolls on its own: focusable, so a keyboard can scroll it too.
    <div className="token-preview" tabIndex={0} role="region" aria-label="Formatted examples, token by token">
      <div className="legend inline">
        <span>
          <span className="key trained" /> trained (loss counts)
        </span>
        <span>
          <span className="key masked" /> masked (prompt, context)
        </span>
      </div>
      {examples.map((ex, i) => {
        const trained = ex.tokens.filter((t) => t.trained).length;
        return (
          <figure key={i} className="example" aria-label={`Example from line ${ex.line}`}>
            <figcaption>
              Line {ex.line} · {ex.tokens.length} tokens · {trained} trained{ex.truncated ? ' · truncated' : ''}
            </figcaption>
            <pre className="tokens">
              {ex.tokens.map((t, k) => (
                <span key={k} className={t.trained ? 'tok trained' : 'tok masked'} title={`id ${t.id}${t.trained ? ' · trained' : ''}`}>
                  {visible(t.text) || '∅'}
                </span>
              ))}
            </pre>
          </figure>
        );
      })}
    </div>
  );
}
