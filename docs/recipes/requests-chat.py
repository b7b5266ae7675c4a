import os
import requests

headers = {
    "Authorization": f"Bearer {os.environ['SKILLBOSS_API_KEY']}",
    "Content-Type": "application/json"
}
response = requests.post(
    f"{os.environ['OPENAI_BASE_URL']}/chat/completions",
    headers=headers,
    json={
        "model": "gemini/gemini-2.5-flash",
        "messages": [{"role": "user", "content": "Hello"}]
    }
)
print(response.json())
