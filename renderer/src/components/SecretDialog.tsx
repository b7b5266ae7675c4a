/**
 * A new secret, shown once: the secret with a copy button and ready-to-paste
 * snippets. The secret lives only in this dialog's props; when the dialog
 * closes its owner drops them, so it is nowhere in the page or its state.
 */
import { useRef, useState } from 'react';
import type { Issued } from '../api';
import { when } from '../format';
import { CopyButton } from './bits';
import { Dialog } from './Dialog';

const MODEL = 'gemini/gemini-2.5-flash';

function snippets(base: string, key: string): Array<{ id: string; label: string; code: string }> {
  return [
    { id: 'env', label: 'Env vars', code: `export OPENAI_BASE_URL=${base}\nexport OPENAI_API_KEY=${key}\nexport SKILLBOSS_API_KEY=${key}\n` },
    {
      id: 'python',
      label: 'Python',
      code: `from openai import OpenAI\n\nclient = OpenAI(base_url="${base}", api_key="${key}")\nreply = client.chat.completions.create(\n    model="${MODEL}",\n    messages=[{"role": "user", "content": "Hello"}],\n)\nprint(reply.choices[0].message.content)\n`,
    },
    {
      id: 'typescript',
      label: 'TypeScript',
      code: `import OpenAI from 'openai';\n\nconst client = new OpenAI({ baseURL: '${base}', apiKey: '${key}' });\nconst reply = await client.chat.completions.create({\n  model: '${MODEL}',\n  messages: [{ role: 'user', content: 'Hello' }],\n});\nconsole.log(reply.choices[0]?.message.content);\n`,
    },
    {
      id: 'curl',
      label: 'curl',
      code: `curl ${base}/chat/completions \\\n  -H "Authorization: Bearer ${key}" \\\n  -H "Content-Type: application/json" \\\n  -d '{"model": "${MODEL}", "messages": [{"role": "user", "content": "Hello"}]}'\n`,
    },
  ];
}

export function SecretDialog({ issued, onClose }: { issued: Issued; onClose: () => void }) {
  const [tab, setTab] = useState('env');
  const secretRef = useRef<HTMLElement>(null);
  const codeRef = useRef<HTMLPreElement>(null);
  const base = `${window.location.origin}/v1`;
  const all = snippets(base, issued.secret);
  const current = all.find((s) => s.id === tab) ?? all[0]!;
  const rotated = issued.old_secret_expires_at !== undefined;

  return (
    <Dialog
      title={rotated ? `New secret for ${issued.token.name}` : `Token ${issued.token.name} created`}
      onClose={onClose}
      wide
      footer={
        <button type="button" className="button primary" onClick={onClose} data-autofocus>
          Done — I have copied it
        </button>
      }
    >
      <p>
        This is the only time the secret is shown. Copy it now; the sidecar keeps only its hash.
        {rotated ? ` The old secret keeps working for ordinary calls until ${when(issued.old_secret_expires_at)}.` : ''}
      </p>
      <div className="secret-row">
        <code className="secret" ref={secretRef} data-testid="secret">
          {issued.secret}
        </code>
        <CopyButton text={() => issued.secret} target={() => secretRef.current} />
      </div>
      <div className="tabs" role="tablist" aria-label="Snippets">
        {all.map((s) => (
          <button
            key={s.id}
            type="button"
            role="tab"
            aria-selected={s.id === tab}
            className={s.id === tab ? 'tab active' : 'tab'}
            onClick={() => setTab(s.id)}
          >
            {s.label}
          </button>
        ))}
      </div>
      <div className="snippet" role="tabpanel" aria-label={current.label}>
        <pre ref={codeRef}>
          <code>{current.code}</code>
        </pre>
        <CopyButton text={() => current.code} label={`Copy ${current.label}`} target={() => codeRef.current} />
      </div>
    </Dialog>
  );
}
