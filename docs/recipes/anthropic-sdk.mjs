import Anthropic from '@anthropic-ai/sdk';

const client = new Anthropic({
  baseURL: process.env.ANTHROPIC_BASE_URL, // http://127.0.0.1:7373 (no /v1)
  authToken: process.env.ANTHROPIC_AUTH_TOKEN, // the agent's own sk-sbl-… token
});

const msg = await client.messages.create({
  model: 'claude-4-5-sonnet',
  max_tokens: 1024,
  messages: [{ role: 'user', content: 'Hello' }],
});
console.log(msg.content[0].text);

const stream = client.messages.stream({
  model: 'claude-4-5-sonnet',
  max_tokens: 1024,
  messages: [{ role: 'user', content: 'Stream please' }],
});
stream.on('text', (text) => process.stdout.write(text));
await stream.finalMessage();
process.stdout.write('\n');
