import { ChatOpenAI, OpenAIEmbeddings } from '@langchain/openai';

const configuration = { baseURL: process.env.OPENAI_BASE_URL };
const apiKey = process.env.OPENAI_API_KEY;

const llm = new ChatOpenAI({ model: 'gemini/gemini-2.5-flash', apiKey, configuration });
console.log((await llm.invoke('Hello')).content);

for await (const chunk of await llm.stream('Stream please')) process.stdout.write(chunk.content);
process.stdout.write('\n');

const embeddings = new OpenAIEmbeddings({ model: 'text-embedding-3-small', apiKey, configuration });
console.log((await embeddings.embedQuery('Hello')).length, 'dimensions');
