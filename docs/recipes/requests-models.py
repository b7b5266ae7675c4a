import os
import requests

response = requests.get(
    f"{os.environ['OPENAI_BASE_URL']}/models",
    headers={"Authorization": f"Bearer {os.environ['SKILLBOSS_API_KEY']}"}
)
for model in response.json()["data"]:
    print(model["id"])
