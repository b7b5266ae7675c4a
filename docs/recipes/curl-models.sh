curl "$OPENAI_BASE_URL/models" \
  -H "Authorization: Bearer $SKILLBOSS_API_KEY"
