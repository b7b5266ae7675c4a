import { createOpenAI } from '@ai-sdk/openai';
import { generateText, streamText } from 'ai';

const skillboss = createOpenAI({
  baseURL: process.env.OPENAI_BASE_URL,
  apiKey: process.env.OPENAI_API_KEY,
});

const { text } = await generateText({
  model: skillboss.chat('gemini/gemini-2.5-flash'),
  prompt: 'Hello',
});
console.log(text);

const result = streamText({
  model: skillboss.chat('gemini/gemini-2.5-flash'),
  prompt: 'Stream please',
});
for await (const part of result.textStream) process.stdout.write(part);
process.stdout.write('\n');
